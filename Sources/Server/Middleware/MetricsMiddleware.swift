import Hummingbird

/// Records the duration and count of every request by service, route and status.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let service: ServiceName
    let metrics: ACGSMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        // The route template, not the raw path, so that ids in paths do not explode label cardinality.
        let route = context.endpointPath ?? "unmatched"
        metrics.recordRequest(service: service, route: route, status: response.status.code, duration: .now - start)
        return response
    }
}
