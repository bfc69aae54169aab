import GovernanceCore
import Hummingbird
import Identity
import Logging

/// The router of one service: shared middleware, health and metrics, then the service's routes.
public func buildRouter(service: ServiceName, runtime: GovernanceRuntime) -> Router<ACGSRequestContext> {
    let router = Router(context: ACGSRequestContext.self)
    // Outermost first: metrics see the final status; headers go on every response, errors included;
    // errors become JSON before the headers are added; the hash check guards every /api/ route.
    router.add(middleware: RequestMetricsMiddleware(service: service, metrics: runtime.metrics))
    router.add(middleware: SecurityHeadersMiddleware(runtime: runtime))
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: ConstitutionalHashMiddleware(runtime: runtime))
    router.add(middleware: AuthenticationMiddleware(auth: runtime.auth))
    HealthController(service: service, runtime: runtime).addRoutes(to: router)
    switch service {
    case .constitutionalAI:
        ConstitutionalAIController(runtime: runtime).addRoutes(to: router)
    case .auth:
        AuthController(runtime: runtime).addRoutes(to: router)
    case .integrity:
        IntegrityController(runtime: runtime).addRoutes(to: router)
    case .agentHITL:
        HITLController(runtime: runtime).addRoutes(to: router)
    }
    return router
}

/// One service as a Hummingbird application listening on its own port.
public func buildApplication(
    service: ServiceName, runtime: GovernanceRuntime, host: String, port: Int, logger: Logger
) -> Application<RouterResponder<ACGSRequestContext>> {
    Application(
        router: buildRouter(service: service, runtime: runtime),
        configuration: .init(address: .hostname(host, port: port), serverName: "acgs-\(service.rawValue)"),
        logger: logger
    )
}
