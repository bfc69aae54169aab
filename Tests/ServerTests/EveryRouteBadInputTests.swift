import Foundation
import GovernanceCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Identity
import NIOCore
import Testing

@testable import Server

/// Every route that takes a JSON body, sent bodies it must refuse: each is answered 400 with a JSON
/// error, writes nothing to the audit log, and leaves the route working (the valid body, sent after
/// them, still succeeds). A route that ignored its body would fail here.
@Suite("Bad bodies on every route")
struct EveryRouteBadInputTests {
    struct Route: CustomTestStringConvertible, Sendable {
        var service: ServiceName
        var method: HTTPRequest.Method
        /// With `{agent}`, `{user}` and `{review}` standing for ids made by the test.
        var path: String
        /// A body the route accepts, also with the placeholders (and `{token}`, `{password}`).
        var valid: String
        /// The valid body's status, when it does not depend on what ran before.
        var validStatus: HTTPResponse.Status?

        var testDescription: String { "\(method) \(path)" }
    }

    static let password = "correct horse battery staple"

    static let routes: [Route] = [
        Route(service: .auth, method: .post, path: "/api/v1/auth/token", valid: #"{"grant_type": "password", "username": "{username}", "password": "{password}"}"#, validStatus: .ok),
        Route(service: .auth, method: .post, path: "/api/v1/auth/validate", valid: #"{"token": "{token}"}"#, validStatus: .ok),
        Route(service: .auth, method: .post, path: "/api/v1/auth/revoke", valid: #"{"token": "not-a-token-we-issued"}"#, validStatus: .ok),
        Route(service: .auth, method: .post, path: "/api/v1/auth/introspect", valid: #"{"token": "{token}"}"#, validStatus: .ok),
        Route(service: .auth, method: .post, path: "/api/v1/auth/users/{user}/password", valid: #"{"current_password": "{password}", "new_password": "{password} again"}"#, validStatus: .ok),
        Route(service: .auth, method: .post, path: "/api/v1/auth/mfa/enroll", valid: "{}", validStatus: .ok),
        Route(service: .auth, method: .post, path: "/api/v1/auth/mfa/confirm", valid: #"{"code": "000000"}"#, validStatus: nil),
        Route(service: .auth, method: .post, path: "/api/v1/auth/agents", valid: #"{"name": "sweeper", "owner": "tests"}"#, validStatus: .created),
        Route(service: .auth, method: .patch, path: "/api/v1/auth/agents/{agent}", valid: #"{"status": "active"}"#, validStatus: .ok),
        Route(service: .auth, method: .post, path: "/api/v1/auth/agents/{agent}/keys", valid: "{}", validStatus: .created),
        Route(service: .auth, method: .post, path: "/api/v1/auth/users", valid: #"{"username": "sweeper", "password": "{password}", "roles": ["auditor"]}"#, validStatus: .created),
        Route(service: .auth, method: .patch, path: "/api/v1/auth/users/{user}", valid: #"{"roles": ["reviewer"]}"#, validStatus: .ok),
        Route(service: .auth, method: .post, path: "/api/v1/auth/logout", valid: "{}", validStatus: .ok),
        Route(service: .constitutionalAI, method: .post, path: "/api/v1/constitutional/validate", valid: #"{"content": "hello"}"#, validStatus: .ok),
        Route(service: .constitutionalAI, method: .post, path: "/api/v1/constitutional/validate/batch", valid: #"{"inputs": [{"content": "hello"}]}"#, validStatus: .ok),
        Route(service: .agentHITL, method: .post, path: "/api/v1/reviews", valid: #"{"action": {"type": "file_read", "tool": "cat"}, "reason": "check"}"#, validStatus: .created),
        Route(service: .agentHITL, method: .post, path: "/api/v1/oversight/request", valid: #"{"action": {"type": "file_read", "tool": "cat"}}"#, validStatus: .created),
        Route(service: .agentHITL, method: .post, path: "/api/v1/webhooks", valid: #"{"url": "http://127.0.0.1:9/hook"}"#, validStatus: .created),
        Route(service: .agentHITL, method: .post, path: "/api/v1/reviews/{review}/claim", valid: "{}", validStatus: .ok),
        Route(service: .agentHITL, method: .post, path: "/api/v1/reviews/{review}/release", valid: "{}", validStatus: .conflict),  // nobody has claimed it
        Route(service: .agentHITL, method: .post, path: "/api/v1/reviews/{review}/decision", valid: #"{"decision": "deny", "reason": "not now"}"#, validStatus: .ok),
        Route(service: .agentHITL, method: .post, path: "/api/v1/reviews/{review}/cancel", valid: "{}", validStatus: nil),
        Route(service: .integrity, method: .post, path: "/api/v1/integrity/tree-head", valid: "{}", validStatus: .created),
        Route(service: .integrity, method: .post, path: "/api/v1/integrity/verify", valid: "{}", validStatus: .ok),
        Route(service: .integrity, method: .post, path: "/api/v1/integrity/keys/rotate", valid: "{}", validStatus: nil),
    ]

    /// Bodies no route accepts, and for an object body, each field given a value no field takes and
    /// a field no route knows.
    static func unwantedBodies(beside valid: String) -> [String] {
        var bodies = [#"{"a":"#, "[1]", "null", #""text""#, "{} trailing", #"{"a": 1, "a": 2}"#, "\u{FEFF}{}"]
        if case .object(let fields)? = try? JSONValue.parse(valid) {
            bodies.append(CanonicalJSON.encode(.object(fields.merging(["no_such_field": true]) { a, _ in a })))
            for key in fields.keys {
                bodies.append(CanonicalJSON.encode(.object(fields.merging([key: [[]]]) { _, b in b })))
            }
        }
        return bodies
    }

    @Test(arguments: routes)
    func refusesWhatItCannotTake(_ route: Route) async throws {
        let h = try await Harness()
        let (user, token) = try await h.signIn(roles: [.admin], password: Self.password)
        // An escalated decision gives the review routes a request waiting for a reviewer.
        let escalated = try await h.test { client in
            try await client.execute(
                uri: validatePath, method: .post, headers: h.headers(),
                body: ByteBuffer(json: #"{"action": {"type": "deploy", "tool": "kubectl"}, "context": {"environment": "production"}}"#))
        }
        let review = try #require(escalated.json["review_id"].stringValue, "\(escalated.json)")
        func filled(_ text: String) -> String {
            text.replacingOccurrences(of: "{agent}", with: h.agent.id).replacingOccurrences(of: "{user}", with: user.id)
                .replacingOccurrences(of: "{review}", with: review).replacingOccurrences(of: "{token}", with: token)
                .replacingOccurrences(of: "{username}", with: user.username).replacingOccurrences(of: "{password}", with: Self.password)
        }
        let path = filled(route.path)
        let valid = filled(route.valid)
        let before = try await h.store.count()
        for body in Self.unwantedBodies(beside: valid) {
            let response = try await h.test(service: route.service) { client in
                try await client.execute(uri: path, method: route.method, headers: h.headers(bearer: .some(token)), body: ByteBuffer(json: body))
            }
            #expect(response.status == .badRequest, "\(body): \(response.status) \(response.json)")
            #expect(response.errorCode?.isEmpty == false && response.json["error"]["message"].stringValue?.isEmpty == false, "\(body): \(response.json)")
        }
        #expect(try await h.store.count() == before, "a refused request wrote to the audit log")
        let accepted = try await h.test(service: route.service) { client in
            try await client.execute(uri: path, method: route.method, headers: h.headers(bearer: .some(token)), body: ByteBuffer(json: valid))
        }
        if let status = route.validStatus { #expect(accepted.status == status, "\(valid): \(accepted.json)") }
    }
}
