import GovernanceCore
import NIOCore
import NIOHTTP1

/// What one service's phase sends: a request for each request number.
struct PerfWorkload: Sendable {
    var service: String
    var endpoint: PerfEndpoint
    var label: String
    var make: @Sendable (Int) -> PerfRequest

    /// A request to `path` under the endpoint's base path.
    static func request(
        _ method: HTTPMethod, _ endpoint: PerfEndpoint, _ path: String, json: JSONValue? = nil, bearer: String? = nil, hash: String? = nil
    ) -> PerfRequest {
        var headers: [(name: String, value: String)] = []
        if let hash { headers.append(("X-Constitutional-Hash", hash)) }
        if let bearer { headers.append(("Authorization", "Bearer \(bearer)")) }
        if json != nil { headers.append(("Content-Type", "application/json")) }
        return PerfRequest(
            method: method, host: "\(endpoint.host):\(endpoint.port)", path: endpoint.basePath + path, headers: headers,
            body: json.map(CanonicalJSON.encode))
    }

    /// `GET /health`, the deployment guide's original test.
    static func health(service: String, endpoint: PerfEndpoint, hash: String) -> PerfWorkload {
        let fixed = request(.GET, endpoint, "/health", hash: hash)
        return PerfWorkload(service: service, endpoint: endpoint, label: "GET /health") { _ in fixed }
    }

    /// Validate requests from a mix of benign and violating actions; `missShare` of them carry a
    /// unique field so that they miss the decision cache.
    static func validate(endpoint: PerfEndpoint, token: String, hash: String, missShare: Double) -> PerfWorkload {
        let path = "/api/v1/constitutional/validate"
        let inputs = BenchInputs.mixed.map(validateBody)
        let prepared = inputs.map { request(.POST, endpoint, path, json: $0, bearer: token, hash: hash) }
        return PerfWorkload(service: "constitutional-ai", endpoint: endpoint, label: "POST /api/v1/constitutional/validate") { n in
            guard misses(n, share: missShare) else { return prepared[n % prepared.count] }
            return request(.POST, endpoint, path, json: unique(inputs[n % inputs.count], n), bearer: token, hash: hash)
        }
    }

    /// Whether request `n` is one of the `share` that miss the server's caches: a multiplicative
    /// spread, so that misses are scattered over the run and over the inputs.
    static func misses(_ n: Int, share: Double) -> Bool {
        (n &* 7919) % 1000 < Int((share * 1000).rounded())
    }

    /// The body with a context field of its own (`perf_request`), which no rule or risk factor reads.
    static func unique(_ body: JSONValue, _ n: Int) -> JSONValue {
        guard case .object(var fields) = body else { return body }
        var context = fields["context"]?.objectValue ?? [:]
        context["perf_request"] = .number(Double(n))
        fields["context"] = .object(context)
        return .object(fields)
    }

    static func validateBody(_ input: JudgedInput) -> JSONValue {
        var body: [String: JSONValue] = [:]
        if !input.action.isNull { body["action"] = input.action }
        if !input.content.isNull { body["content"] = input.content }
        if !input.context.isNull { body["context"] = input.context }
        return .object(body)
    }

    static func authValidate(endpoint: PerfEndpoint, token: String, hash: String) -> PerfWorkload {
        let fixed = request(.POST, endpoint, "/api/v1/auth/validate", json: ["token": .string(token)], bearer: token, hash: hash)
        return PerfWorkload(service: "auth", endpoint: endpoint, label: "POST /api/v1/auth/validate") { _ in fixed }
    }

    /// Review requests on the fast lane; `missShare` of them carry a unique field, so that the
    /// server parses and judges them anew instead of taking them from its cache of request bodies.
    static func review(endpoint: PerfEndpoint, apiKey: String, hash: String, missShare: Double) -> PerfWorkload {
        let path = "/api/v1/reviews"
        let fixed = request(.POST, endpoint, path, json: BenchInputs.fastLaneReview, bearer: apiKey, hash: hash)
        return PerfWorkload(service: "agent-hitl", endpoint: endpoint, label: "POST /api/v1/reviews (fast lane)") { n in
            guard misses(n, share: missShare) else { return fixed }
            return request(.POST, endpoint, path, json: unique(BenchInputs.fastLaneReview, n), bearer: apiKey, hash: hash)
        }
    }
}

/// The agent, key and token `acgs perf` makes for itself through the Auth service, and removes.
struct PerfIdentity: Sendable {
    var adminToken: String
    var agentId: String
    var apiKey: String
    var accessToken: String

    static func create(_ caller: PerfCaller, auth: PerfEndpoint, user: String, password: String, hash: String) async throws -> PerfIdentity {
        let grant = try await caller.call(
            .POST, auth, "/api/v1/auth/token", json: ["grant_type": "password", "username": .string(user), "password": .string(password)],
            hash: hash)
        guard grant.status == 200, let admin = grant.json["access_token"].stringValue else {
            throw PerfFailure("admin sign-in as '\(user)' failed: HTTP \(grant.status) \(grant.json["error"])")
        }
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let agent = try await caller.call(
            .POST, auth, "/api/v1/auth/agents", json: ["name": .string("acgs-perf-\(suffix)"), "owner": "acgs perf"], bearer: admin, hash: hash)
        guard agent.status == 201 || agent.status == 200, let id = agent.json["id"].stringValue else {
            throw PerfFailure("creating the load agent failed: HTTP \(agent.status) \(agent.json)")
        }
        do {
            let key = try await caller.call(.POST, auth, "/api/v1/auth/agents/\(id)/keys", json: [:], bearer: admin, hash: hash)
            guard let apiKey = key.json["api_key"].stringValue else { throw PerfFailure("creating its API key failed: HTTP \(key.status) \(key.json)") }
            let exchange = try await caller.call(
                .POST, auth, "/api/v1/auth/token", json: ["grant_type": "api_key", "api_key": .string(apiKey)], hash: hash)
            guard let token = exchange.json["access_token"].stringValue else {
                throw PerfFailure("exchanging the API key for a token failed: HTTP \(exchange.status) \(exchange.json)")
            }
            return PerfIdentity(adminToken: admin, agentId: id, apiKey: apiKey, accessToken: token)
        } catch {
            _ = try? await caller.call(.DELETE, auth, "/api/v1/auth/agents/\(id)", bearer: admin, hash: hash)
            throw error
        }
    }

    /// Deletes the agent (and so its key); true when the Auth service confirmed.
    func delete(_ caller: PerfCaller, auth: PerfEndpoint, hash: String) async -> Bool {
        guard let response = try? await caller.call(.DELETE, auth, "/api/v1/auth/agents/\(agentId)", bearer: adminToken, hash: hash) else {
            return false
        }
        return (200..<300).contains(response.status)
    }
}
