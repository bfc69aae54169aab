import Foundation
import GovernanceCore
import Hummingbird
import Identity
import Storage

/// The Auth service: tokens for agents and people, validation and introspection, revocation,
/// signing keys, and management of identities and credentials.
struct AuthController {
    typealias Context = ACGSRequestContext
    let runtime: GovernanceRuntime
    var auth: AuthService { runtime.auth }

    static var maxBodyBytes: Int { 64 * 1024 }

    func addRoutes(to router: Router<Context>) {
        router.get("/.well-known/jwks.json", use: jwks)
        router.post("/api/v1/auth/token", use: token)
        router.post("/api/v1/auth/validate", use: validate)
        router.post("/api/v1/auth/revoke", use: revoke)

        let signedIn = router.group("/api/v1/auth").add(middleware: RequireRoles(Role.allCases))
        signedIn.post("introspect", use: introspect)
        signedIn.post("logout", use: logout)
        signedIn.get("me", use: me)
        signedIn.post("users/:id/password", use: changePassword)
        signedIn.post("mfa/enroll", use: enrollMFA)
        signedIn.post("mfa/confirm", use: confirmMFA)

        let admin = router.group("/api/v1/auth").add(middleware: RequireRoles(.admin))
        admin.post("agents", use: createAgent)
        admin.get("agents", use: listAgents)
        admin.get("agents/:id", use: getAgent)
        admin.patch("agents/:id", use: updateAgent)
        admin.delete("agents/:id", use: deleteAgent)
        admin.post("agents/:id/keys", use: createKey)
        admin.get("agents/:id/keys", use: listKeys)
        admin.delete("keys/:id", use: revokeKey)
        admin.post("users", use: createUser)
        admin.get("users", use: listUsers)
        admin.get("users/:id", use: getUser)
        admin.patch("users/:id", use: updateUser)
        admin.delete("users/:id", use: deleteUser)
    }

    // MARK: tokens

    @Sendable func token(_ request: Request, context: Context) async throws -> Response {
        let body = try await Self.formOrJSON(request)
        let fields = try JSONFields(body, path: "", allowed: ["grant_type", "username", "password", "totp", "api_key", "refresh_token", "scope"])
        let grant: TokenGrant
        do {
            switch try fields.string("grant_type", required: true) {
            case "password":
                grant = try await auth.passwordGrant(
                    username: try fields.string("username", required: true) ?? "", password: try fields.string("password", required: true) ?? "",
                    otp: try fields.string("totp"))
            case "api_key":
                grant = try await auth.apiKeyGrant(key: try fields.string("api_key", required: true) ?? "")
            case "refresh_token":
                grant = try await auth.refreshGrant(try fields.string("refresh_token", required: true) ?? "")
            case let other:
                throw APIError.badRequest("unsupported grant_type '\(other ?? "")' (password, api_key, refresh_token)", code: "unsupported_grant_type")
            }
        } catch let error as AuthError {
            throw Self.apiError(error)
        }
        var out: [String: JSONValue] = [
            "access_token": .string(grant.accessToken), "token_type": "Bearer", "expires_in": .number(Double(grant.expiresIn)),
            "refresh_token": grant.refreshToken.map(JSONValue.string) ?? .null,
        ]
        out["roles"] = .array(grant.principal.roles.map(\.rawValue).sorted().map(JSONValue.string))
        var response = JSONResponse.make(.object(out))
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// The ACGS-2 validation shape. An invalid token is 401 with `valid: false`.
    @Sendable func validate(_ request: Request, context: Context) async throws -> Response {
        let fields = try JSONFields(try await request.jsonBody(limit: Self.maxBodyBytes), path: "", allowed: ["token"])
        let token = try fields.string("token", required: true) ?? ""
        do {
            let (p, hit) = try await auth.authenticate(bearer: token)
            return JSONResponse.make(
                .object([
                    "valid": true, "user_id": .string(p.id), "username": .string(p.name), "kind": .string(p.kind.rawValue),
                    "roles": .array(p.roles.map(\.rawValue).sorted().map(JSONValue.string)),
                    "expires_at": IdentityJSON.date(p.expiresAt),
                    "constitutional_hash": .string(runtime.activeHash), "cache_hit": .bool(hit),
                ]))
        } catch .unavailable {
            throw APIError.unavailable("the identity store is unavailable; retry later", code: "identity_store_unavailable")
        } catch {
            var body = AuthenticationMiddleware.unauthorized("the token is not valid", error: "invalid_token").body
            if case .object(var o) = body { o["valid"] = false; body = .object(o) }
            var response = JSONResponse.make(body, status: .unauthorized)
            response.headers[.wwwAuthenticate] = #"Bearer realm="acgs", error="invalid_token""#
            return response
        }
    }

    /// RFC 7662. Inactive, unknown and malformed tokens are all `{"active": false}`.
    @Sendable func introspect(_ request: Request, context: Context) async throws -> Response {
        let fields = try JSONFields(try await Self.formOrJSON(request), path: "", allowed: ["token", "token_type_hint"])
        let token = try fields.string("token", required: true) ?? ""
        guard let (p, _) = try? await auth.authenticate(bearer: token) else { return JSONResponse.make(["active": false]) }
        var out: [String: JSONValue] = [
            "active": true, "sub": .string(p.id), "username": .string(p.name), "token_type": "Bearer",
            "scope": .string(p.roles.map(\.rawValue).sorted().joined(separator: " ")), "iss": .string(auth.policy.issuer),
            "aud": .string(auth.policy.audience),
        ]
        if let exp = p.expiresAt { out["exp"] = .number(exp.timeIntervalSince1970.rounded(.down)) }
        if let iat = p.issuedAt { out["iat"] = .number(iat.timeIntervalSince1970.rounded(.down)) }
        if let jti = p.tokenId { out["jti"] = .string(jti) }
        return JSONResponse.make(.object(out))
    }

    /// RFC 7009: always 200 for a well-formed request, whether or not the token was known.
    @Sendable func revoke(_ request: Request, context: Context) async throws -> Response {
        let fields = try JSONFields(try await Self.formOrJSON(request), path: "", allowed: ["token", "token_type_hint"])
        let token = try fields.string("token", required: true) ?? ""
        do {
            try await auth.revoke(token, by: context.principal)
        } catch {
            throw Self.apiError(error)
        }
        return JSONResponse.make(["revoked": true])
    }

    @Sendable func logout(_ request: Request, context: Context) async throws -> Response {
        guard let principal = context.principal else { throw AuthenticationMiddleware.unauthorized("authentication required", error: nil) }
        try await request.emptyJSONObjectBody(limit: Self.maxBodyBytes)
        do { try await auth.logout(principal) } catch { throw Self.apiError(error) }
        return JSONResponse.make(["logged_out": true])
    }

    @Sendable func me(_ request: Request, context: Context) async throws -> Response {
        guard let p = context.principal else { throw AuthenticationMiddleware.unauthorized("authentication required", error: nil) }
        return JSONResponse.make(
            .object([
                "id": .string(p.id), "name": .string(p.name), "kind": .string(p.kind.rawValue), "method": .string(p.method.rawValue),
                "roles": .array(p.roles.map(\.rawValue).sorted().map(JSONValue.string)),
            ]))
    }

    @Sendable func jwks(_ request: Request, context: Context) async throws -> Response {
        var response = JSONResponse.make(text: await auth.tokens.keys.jwks())
        response.headers[.cacheControl] = "max-age=60"
        return response
    }

    // MARK: agents and keys

    @Sendable func createAgent(_ request: Request, context: Context) async throws -> Response {
        let f = try JSONFields(try await request.jsonBody(limit: Self.maxBodyBytes), path: "", allowed: ["name", "owner", "roles", "scopes"])
        let roles = try Self.roles(f) ?? [.agent]
        let agent = try await run {
            try await auth.createAgent(
                name: try f.string("name", required: true) ?? "", owner: try f.string("owner") ?? context.principal?.name ?? "",
                roles: roles, scopes: try f.stringArray("scopes") ?? [], by: context.principal?.id)
        }
        return JSONResponse.make(IdentityJSON.agent(agent), status: .created)
    }

    @Sendable func listAgents(_ request: Request, context: Context) async throws -> Response {
        let agents = try await run { try await auth.repository.listAgents() }
        return JSONResponse.make(["agents": .array(agents.map(IdentityJSON.agent)), "count": .number(Double(agents.count))])
    }

    @Sendable func getAgent(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        guard let agent = try await run({ try await auth.repository.agent(id: id) }) else { throw Self.apiError(.notFound("agent \(id)")) }
        return JSONResponse.make(IdentityJSON.agent(agent))
    }

    @Sendable func updateAgent(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        let f = try JSONFields(try await request.jsonBody(limit: Self.maxBodyBytes), path: "", allowed: ["status", "roles", "scopes"])
        let status = try Self.status(f)
        let roles = try Self.roles(f)
        let agent = try await run {
            try await auth.updateAgent(id: id, status: status, roles: roles, scopes: try f.stringArray("scopes"), by: context.principal?.id)
        }
        return JSONResponse.make(IdentityJSON.agent(agent))
    }

    @Sendable func deleteAgent(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        try await run { try await auth.deleteAgent(id: id, by: context.principal?.id) }
        return JSONResponse.make(["deleted": .string(id)])
    }

    @Sendable func createKey(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        let body = request.headers[.contentLength] == "0" ? JSONValue.object([:]) : try await request.jsonBody(limit: Self.maxBodyBytes)
        let f = try JSONFields(body, path: "", allowed: ["expires_at"])
        var expiry: Date?
        if let text = try f.string("expires_at") {
            guard let date = try? Date.ISO8601FormatStyle().parse(text) else {
                throw APIError.badRequest("field 'expires_at': expected an ISO 8601 date-time", code: "invalid_json")
            }
            expiry = date
        }
        let expiresAt = expiry
        let (key, record) = try await run { try await auth.createAPIKey(agentId: id, expiresAt: expiresAt, by: context.principal?.id) }
        guard case .object(var out) = IdentityJSON.key(record) else { return JSONResponse.make(.null) }
        out["api_key"] = .string(key)
        out["note"] = "store the key now: it is shown once and kept only as a hash"
        var response = JSONResponse.make(.object(out), status: .created)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    @Sendable func listKeys(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        let keys = try await run { try await auth.repository.apiKeys(agentId: id) }
        return JSONResponse.make(["keys": .array(keys.map(IdentityJSON.key)), "count": .number(Double(keys.count))])
    }

    @Sendable func revokeKey(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        try await run { try await auth.revokeAPIKey(id: id, by: context.principal?.id) }
        return JSONResponse.make(["revoked": .string(id)])
    }

    // MARK: people

    @Sendable func createUser(_ request: Request, context: Context) async throws -> Response {
        let f = try JSONFields(try await request.jsonBody(limit: Self.maxBodyBytes), path: "", allowed: ["username", "password", "roles"])
        let roles = try Self.roles(f) ?? []
        let user = try await run {
            try await auth.createUser(
                username: try f.string("username", required: true) ?? "", password: try f.string("password", required: true) ?? "", roles: roles,
                by: context.principal?.id)
        }
        return JSONResponse.make(IdentityJSON.user(user), status: .created)
    }

    @Sendable func listUsers(_ request: Request, context: Context) async throws -> Response {
        let users = try await run { try await auth.repository.listUsers() }
        return JSONResponse.make(["users": .array(users.map(IdentityJSON.user)), "count": .number(Double(users.count))])
    }

    @Sendable func getUser(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        guard let user = try await run({ try await auth.repository.user(id: id) }) else { throw Self.apiError(.notFound("user \(id)")) }
        return JSONResponse.make(IdentityJSON.user(user))
    }

    @Sendable func updateUser(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        let f = try JSONFields(try await request.jsonBody(limit: Self.maxBodyBytes), path: "", allowed: ["status", "roles"])
        let status = try Self.status(f)
        let roles = try Self.roles(f)
        let user = try await run { try await auth.updateUser(id: id, status: status, roles: roles, by: context.principal?.id) }
        return JSONResponse.make(IdentityJSON.user(user))
    }

    @Sendable func deleteUser(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        try await run { try await auth.deleteUser(id: id, by: context.principal?.id) }
        return JSONResponse.make(["deleted": .string(id)])
    }

    /// One's own password (with the current one), or anyone's for an admin.
    @Sendable func changePassword(_ request: Request, context: Context) async throws -> Response {
        let id = try context.parameters.require("id")
        guard let p = context.principal else { throw AuthenticationMiddleware.unauthorized("authentication required", error: nil) }
        let f = try JSONFields(try await request.jsonBody(limit: Self.maxBodyBytes), path: "", allowed: ["current_password", "new_password"])
        let own = p.id == id
        guard own || p.roles.contains(.admin) else { throw APIError(.forbidden, code: "forbidden", message: "only an admin changes another person's password") }
        let current = try f.string("current_password", required: own)
        let new = try f.string("new_password", required: true) ?? ""
        try await run { try await auth.changePassword(userId: id, current: own ? current : nil, new: new, by: p.id) }
        return JSONResponse.make(["changed": true])
    }

    @Sendable func enrollMFA(_ request: Request, context: Context) async throws -> Response {
        guard let p = context.principal, p.kind == .user else { throw APIError(.forbidden, code: "forbidden", message: "second factors are for people") }
        try await request.emptyJSONObjectBody(limit: Self.maxBodyBytes)
        let (uri, codes) = try await run { try await auth.enrollTOTP(userId: p.id) }
        var response = JSONResponse.make(["otpauth_uri": .string(uri), "recovery_codes": .array(codes.map(JSONValue.string))])
        response.headers[.cacheControl] = "no-store"
        return response
    }

    @Sendable func confirmMFA(_ request: Request, context: Context) async throws -> Response {
        guard let p = context.principal, p.kind == .user else { throw APIError(.forbidden, code: "forbidden", message: "second factors are for people") }
        let f = try JSONFields(try await request.jsonBody(limit: Self.maxBodyBytes), path: "", allowed: ["code"])
        let code = try f.string("code", required: true) ?? ""
        try await run { try await auth.confirmTOTP(userId: p.id, code: code) }
        return JSONResponse.make(["mfa_enabled": true])
    }

    // MARK: helpers

    func run<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as AuthError {
            throw Self.apiError(error)
        }
    }

    static func apiError(_ error: AuthError) -> APIError {
        switch error {
        case .invalidCredentials:
            return AuthenticationMiddleware.unauthorized("invalid username, password, code or key", error: "invalid_credentials")
        case .mfaRequired:
            return AuthenticationMiddleware.unauthorized("a second factor is required: send 'totp'", error: "mfa_required")
        case .invalidToken:
            return AuthenticationMiddleware.unauthorized("the token was refused", error: "invalid_token")
        case .invalidRequest(let message): return APIError.badRequest(message, code: "invalid_request")
        case .notFound(let what): return APIError(.notFound, code: "not_found", message: "no \(what)")
        case .conflict(let what): return APIError(.conflict, code: "conflict", message: "\(what) already exists")
        case .forbidden(let message): return APIError(.forbidden, code: "forbidden", message: message)
        case .unavailable: return APIError.unavailable("the identity store is unavailable; retry later", code: "identity_store_unavailable")
        }
    }

    static func roles(_ f: JSONFields) throws(APIError) -> [Role]? {
        guard let names = try f.stringArray("roles") else { return nil }
        var roles: [Role] = []
        for name in names {
            guard let role = Role(rawValue: name) else {
                throw APIError.badRequest("unknown role '\(name)' (\(Role.allCases.map(\.rawValue).joined(separator: ", ")))", code: "invalid_request")
            }
            roles.append(role)
        }
        return roles
    }

    static func status(_ f: JSONFields) throws(APIError) -> IdentityStatus? {
        guard let name = try f.string("status") else { return nil }
        guard let status = IdentityStatus(rawValue: name) else {
            throw APIError.badRequest("unknown status '\(name)' (active, suspended, retired)", code: "invalid_request")
        }
        return status
    }

    /// RFC 6749, 7009 and 7662 clients send forms; ACGS-2 clients send JSON. Both are read.
    static func formOrJSON(_ request: Request) async throws -> JSONValue {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") else { return try await request.jsonBody(limit: maxBodyBytes) }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBodyBytes)
        } catch {
            throw APIError(.contentTooLarge, code: "body_too_large", message: "the body exceeds the limit of \(maxBodyBytes) bytes")
        }
        var fields: [String: JSONValue] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let key = decode(parts[0]), let value = parts.count > 1 ? decode(parts[1]) : "" else {
                throw APIError.badRequest("malformed form body", code: "invalid_request")
            }
            guard fields.updateValue(.string(value), forKey: key) == nil else {
                throw APIError.badRequest("duplicate form field '\(key)'", code: "invalid_request")
            }
        }
        return .object(fields)
    }
}

/// Identities as JSON: never a password hash, TOTP secret or key hash.
enum IdentityJSON {
    static func date(_ d: Date?) -> JSONValue { d.map { .string(Date.ISO8601FormatStyle().format($0)) } ?? .null }

    static func agent(_ a: AgentRecord) -> JSONValue {
        .object([
            "id": .string(a.id), "name": .string(a.name), "owner": .string(a.owner), "status": .string(a.status.rawValue),
            "roles": .array(a.roles.map { .string($0.rawValue) }), "scopes": .array(a.scopes.map(JSONValue.string)),
            "created_at": date(a.createdAt), "updated_at": date(a.updatedAt),
        ])
    }

    static func user(_ u: UserRecord) -> JSONValue {
        .object([
            "id": .string(u.id), "username": .string(u.username), "status": .string(u.status.rawValue),
            "roles": .array(u.roles.map { .string($0.rawValue) }), "mfa_enabled": .bool(u.totpEnabled),
            "locked_until": date(u.lockedUntil), "created_at": date(u.createdAt), "updated_at": date(u.updatedAt),
        ])
    }

    static func key(_ k: APIKeyRecord) -> JSONValue {
        .object([
            "id": .string(k.id), "agent_id": .string(k.agentId), "prefix": .string(k.prefix), "created_at": date(k.createdAt),
            "expires_at": date(k.expiresAt), "revoked_at": date(k.revokedAt),
        ])
    }
}
