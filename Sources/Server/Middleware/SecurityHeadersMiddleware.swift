import HTTPTypes
import Hummingbird

/// The guide's security headers, and the active constitutional hash, on every response.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let runtime: GovernanceRuntime

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.constitutionalHash] = runtime.activeHash
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.xXSSProtection] = "1; mode=block"
        return response
    }
}

extension HTTPField.Name {
    // Constant, valid token names: these initialisers cannot return nil.
    public static let constitutionalHash = Self("X-Constitutional-Hash")!
    public static let xFrameOptions = Self("X-Frame-Options")!
    public static let xXSSProtection = Self("X-XSS-Protection")!
}
