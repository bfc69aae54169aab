import Foundation
import GovernanceCore
import Hummingbird
import Identity
import Storage

/// Authenticates every `/api/` request (except the Auth service's own token endpoints, which
/// authenticate their body) from `Authorization: Bearer <access token or API key>`. Missing or
/// invalid credentials are 401 with `WWW-Authenticate`; the identity store being down is 503.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = ACGSRequestContext
    let auth: AuthService
    /// Paths that authenticate themselves: the credential is in the body (token grants, ACGS-2
    /// validation, RFC 7009 revocation, which only needs possession of the token).
    static let open: Set<String> = ["/api/v1/auth/token", "/api/v1/auth/validate", "/api/v1/auth/revoke"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path.hasPrefix("/api/"), !Self.open.contains(path) else {
            return try await next(request, context)
        }
        guard let credential = Self.bearer(request) else {
            throw Self.unauthorized("authentication required: send Authorization: Bearer <access token or API key>", error: nil)
        }
        var context = context
        do {
            context.principal = try await auth.authenticate(bearer: credential).0
        } catch .unavailable {
            throw APIError.unavailable("the identity store is unavailable; retry later", code: "identity_store_unavailable")
        } catch {
            throw Self.unauthorized("the credential was refused", error: "invalid_token")
        }
        return try await next(request, context)
    }

    /// The bearer credential, or nil when the header is missing or not a well-formed Bearer header.
    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        // "Bearer" (any case), at least one space, then the credential up to trailing spaces.
        let bytes = header.utf8
        let scheme = "bearer".utf8
        guard bytes.count > scheme.count + 1 else { return nil }
        var start = bytes.startIndex
        for expected in scheme {
            guard bytes[start] | 0x20 == expected else { return nil }
            start = bytes.index(after: start)
        }
        guard bytes[start] == 0x20 else { return nil }
        var end = bytes.endIndex
        while start < end && bytes[start] == 0x20 { start = bytes.index(after: start) }
        while end > start && bytes[bytes.index(before: end)] == 0x20 { end = bytes.index(before: end) }
        guard start < end else { return nil }
        return String(header[start..<end])
    }

    static func unauthorized(_ message: String, error: String?) -> APIError {
        var challenge = #"Bearer realm="acgs""#
        if let error { challenge += #", error="\#(error)""# }
        return APIError(.unauthorized, code: error ?? "unauthorized", message: message, headers: [.wwwAuthenticate: challenge])
    }
}

/// Admits only callers with one of the route's roles: 403 otherwise.
struct RequireRoles: RouterMiddleware {
    typealias Context = ACGSRequestContext
    let roles: Set<Role>

    init(_ roles: Role...) { self.roles = Set(roles) }
    init(_ roles: [Role]) { self.roles = Set(roles) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let principal = context.principal else {
            throw AuthenticationMiddleware.unauthorized("authentication required", error: nil)
        }
        guard principal.has(anyOf: roles) else {
            throw APIError(
                .forbidden, code: "forbidden",
                message: "this endpoint admits the roles \(roles.map(\.rawValue).sorted().joined(separator: ", "))")
        }
        return try await next(request, context)
    }
}
