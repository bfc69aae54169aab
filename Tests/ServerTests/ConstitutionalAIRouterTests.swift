import HTTPTypes
import Foundation
import GovernanceCore
import Hummingbird
import HummingbirdTesting
import Storage
import Testing

@testable import Server

let validatePath = "/api/v1/constitutional/validate"

@Suite("Constitutional AI endpoints")
struct ConstitutionalAIRouterTests {
    @Test func deniesADestructiveActionWithEvidenceAndStoresIt() async throws {
        let h = try await Harness()
        let body = #"{"action": {"type": "shell", "tool": "bash", "arguments": {"command": "rm -rf /srv/data"}}, "content": "tidy up"}"#
        let response = try await h.test { client in
            try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: body))
        }
        #expect(response.status == .ok)
        let j = response.json
        #expect(j["decision"] == "deny")
        #expect(j["compliant"] == false)
        #expect(j["constitutional_hash"] == .string(h.hash))
        #expect(j["violated_principles"] == ["safety"])
        #expect(j["violations"][0]["rule_id"] == "no-recursive-delete")
        #expect(j["violations"][0]["effect"] == "deny")
        #expect(j["violations"][0]["evidence"].arrayValue?.contains(["field": "action.arguments.command", "match": "rm -rf"]) == true)
        #expect(j["metadata"]["cache_hit"] == false)
        #expect(j["metadata"]["constitution_version"] == "3.1.4")
        #expect(j["metadata"]["validation_time_us"].numberValue != nil)
        #expect(j["reasoning"].stringValue?.contains("no-recursive-delete") == true)
        #expect(j["recommendations"].arrayValue?.isEmpty == false)
        let id = try #require(j["decision_id"].stringValue)
        let stored = try #require(try await h.store.find(id: id))
        #expect(stored.outcome == .deny)
        #expect(stored.constitutionHash == h.hash)
    }

    @Test func acceptsTheACGS2ContentForm() async throws {
        let h = try await Harness()
        let response = try await h.test { client in
            try await client.execute(
                uri: validatePath, method: .post, headers: h.headers(),
                body: ByteBuffer(json: #"{"content": "Summarise the meeting notes", "context": {"amount": 5000}, "principles": ["oversight"]}"#))
        }
        #expect(response.status == .ok)
        #expect(response.json["decision"] == "allow")
        #expect(response.json["compliant"] == true)
        #expect(response.json["violations"][0]["effect"] == "warn")
        #expect(response.json["violated_principles"] == [])
    }

    /// An agent does not choose the law it is judged by: its `principles` are checked, but its action
    /// is judged by the whole constitution. An admin testing rules narrows the evaluation.
    @Test func anAgentsPrinciplesDoNotNarrowItsJudgement() async throws {
        let h = try await Harness()
        let body = #"{"action": {"type": "shell", "arguments": {"command": "rm -rf /"}}, "principles": ["oversight"]}"#
        let asAgent = try await h.test { client in
            try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: body))
        }
        #expect(asAgent.json["decision"] == "deny")
        #expect(asAgent.json["violated_principles"] == ["safety"])
        let batch = try await h.test { client in
            try await client.execute(
                uri: validatePath + "/batch", method: .post, headers: h.headers(), body: ByteBuffer(json: #"{"inputs": [\#(body)]}"#))
        }
        #expect(batch.json["results"][0]["decision"] == "deny")
        let admin = try await h.signIn(roles: [.admin]).1
        let asAdmin = try await h.test { client in
            try await client.execute(uri: validatePath, method: .post, headers: h.headers(bearer: admin), body: ByteBuffer(json: body))
        }
        #expect(asAdmin.json["decision"] == "allow")
        // Unknown principles are refused either way.
        let unknown = try await h.test { client in
            try await client.execute(
                uri: validatePath, method: .post, headers: h.headers(),
                body: ByteBuffer(json: #"{"content": "x", "principles": ["no-such-principle"]}"#))
        }
        #expect(unknown.status == .badRequest)
    }

    @Test func escalatesAProductionChange() async throws {
        let h = try await Harness()
        let response = try await h.test { client in
            try await client.execute(
                uri: validatePath, method: .post, headers: h.headers(),
                body: ByteBuffer(json: #"{"action": {"type": "deploy"}, "context": {"environment": "production"}}"#))
        }
        #expect(response.json["decision"] == "escalate")
    }

    @Test func secretsAreMaskedInEvidenceAndInTheStore() async throws {
        let h = try await Harness()
        let key = "AKIAIOSFODNN7EXAMPLE"
        let response = try await h.test { client in
            try await client.execute(
                uri: validatePath, method: .post, headers: h.headers(),
                body: ByteBuffer(json: #"{"action": {"type": "file_write", "arguments": {"text": "AWS_ACCESS_KEY_ID=\#(key)"}}}"#))
        }
        #expect(response.json["decision"] == "deny")
        let text = String(buffer: response.body)
        #expect(!text.contains(key))
        let stored = try #require(try await h.store.find(id: response.json["decision_id"].stringValue ?? ""))
        #expect(!stored.maskedInput.contains(key))
        #expect(!stored.violations.contains(key))
    }

    @Test func secondIdenticalRequestIsACacheHitWithItsOwnRecord() async throws {
        let h = try await Harness()
        let body = #"{"content": "hello", "context": {"environment": "production"}}"#
        let (first, second) = try await h.test { client in
            let a = try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: body))
            let b = try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: body))
            return (a.json, b.json)
        }
        #expect(first["metadata"]["cache_hit"] == false)
        #expect(second["metadata"]["cache_hit"] == true)
        #expect(first["decision"] == second["decision"])
        #expect(first["violations"] == second["violations"])
        #expect(first["decision_id"] != second["decision_id"])
        #expect(try await h.store.count() == 2)
    }

    @Test func batchJudgesEveryInputInOrder() async throws {
        let h = try await Harness()
        let body = """
            {"inputs": [
              {"content": "fine"},
              {"action": {"type": "shell", "arguments": {"command": "rm -rf /"}}},
              {"content": "ship it", "context": {"environment": "production"}}
            ]}
            """
        let response = try await h.test { client in
            try await client.execute(uri: validatePath + "/batch", method: .post, headers: h.headers(), body: ByteBuffer(json: body))
        }
        #expect(response.status == .ok)
        #expect(response.json["count"] == 3)
        #expect(response.json["results"].arrayValue?.map { $0["decision"] } == ["allow", "deny", "escalate"])
        #expect(try await h.store.count() == 3)
    }

    @Test func batchWithOneBadInputRecordsNothing() async throws {
        let h = try await Harness()
        let body = #"{"inputs": [{"content": "fine"}, {"context": {}}]}"#
        let response = try await h.test { client in
            try await client.execute(uri: validatePath + "/batch", method: .post, headers: h.headers(), body: ByteBuffer(json: body))
        }
        #expect(response.status == .badRequest)
        #expect(response.json["error"]["message"].stringValue?.contains("'inputs[1]'") == true)
        #expect(try await h.store.count() == 0)
    }

    @Test func batchLimits() async throws {
        let h = try await Harness()
        let many = "{\"inputs\": [" + Array(repeating: #"{"content": "x"}"#, count: 1001).joined(separator: ",") + "]}"
        let (tooMany, empty) = try await h.test { client in
            let a = try await client.execute(uri: validatePath + "/batch", method: .post, headers: h.headers(), body: ByteBuffer(json: many))
            let b = try await client.execute(uri: validatePath + "/batch", method: .post, headers: h.headers(), body: ByteBuffer(json: #"{"inputs": []}"#))
            return (a, b)
        }
        #expect(tooMany.status == .badRequest && tooMany.errorCode == "batch_too_large")
        #expect(empty.status == .badRequest && empty.errorCode == "empty_batch")
    }

    @Test func listsPrinciplesAndTheConstitution() async throws {
        let h = try await Harness()
        let (principles, constitution) = try await h.test { client in
            let a = try await client.execute(uri: "/api/v1/constitutional/principles", method: .get, headers: h.headers(contentType: nil))
            let b = try await client.execute(uri: "/api/v1/constitution", method: .get, headers: h.headers(contentType: nil))
            return (a, b)
        }
        #expect(principles.status == .ok)
        #expect(principles.json["count"] == 2)
        #expect(principles.json["principles"][0]["id"] == "safety")
        #expect(constitution.status == .ok)
        #expect(constitution.json["constitutional_hash"] == .string(h.hash))
        #expect(constitution.json["digest"] == .string(h.runtime.constitution.identity.digest))
        #expect(constitution.json["rules"].arrayValue?.count == 5)
        #expect(constitution.json["version"] == "3.1.4")
    }

    @Test(.enabled(if: TestStore.canInjectFailures, "needs a store that fails on demand; PostgreSQL stopped for real is the end-to-end fault test"))
    func failsClosedWhenTheStoreIsDown() async throws {
        let h = try await Harness()
        await h.setAuditFailing(true)
        let (validate, ready) = try await h.test { client in
            let a = try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: #"{"content": "hi"}"#))
            let b = try await client.execute(uri: "/health/ready", method: .get)
            return (a, b)
        }
        #expect(validate.status == .serviceUnavailable)
        #expect(validate.errorCode == "audit_log_unavailable")
        #expect(validate.json["decision"] == .null, "no decision may be given without a record")
        #expect(ready.status == .serviceUnavailable)
        #expect(h.runtime.metrics.exposition().contains("acgs_constitutional_compliance_rate 0"))
    }
}

@Suite("Bad input on every endpoint")
struct BadInputTests {
    static let postEndpoints = [validatePath, validatePath + "/batch"]
    static let getEndpoints = ["/api/v1/constitutional/principles", "/api/v1/constitution"]

    @Test(arguments: postEndpoints + getEndpoints)
    func missingHashIs400AndWrongHashIs409(path: String) async throws {
        let h = try await Harness()
        let method: HTTPRequest.Method = path.contains("validate") ? .post : .get
        let (missing, wrong) = try await h.test { client in
            var noHash = h.headers()
            noHash[HTTPField.Name("X-Constitutional-Hash")!] = nil
            let a = try await client.execute(uri: path, method: method, headers: noHash, body: ByteBuffer(json: #"{"content": "x"}"#))
            let b = try await client.execute(uri: path, method: method, headers: h.headers(hash: "0000000000000000"), body: ByteBuffer(json: #"{"content": "x"}"#))
            return (a, b)
        }
        #expect(missing.status == .badRequest)
        #expect(missing.errorCode == "missing_constitutional_hash")
        #expect(wrong.status == .conflict)
        #expect(wrong.errorCode == "constitutional_hash_mismatch")
        #expect(wrong.json["error"]["active_hash"] == .string(h.hash))
        #expect(try await h.store.count() == 0)
    }

    @Test(arguments: [
        (#"{"content": "x""#, "invalid_json"),
        ("not json at all", "invalid_json"),
        (#"[1, 2]"#, "invalid_json"),
        (#"{"content": 42}"#, "invalid_json"),
        (#"{"action": "rm -rf /"}"#, "invalid_json"),
        (#"{"action": {"tool": "bash"}}"#, "invalid_json"),
        (#"{"action": {"type": "shell", "arguments": [1]}}"#, "invalid_json"),
        (#"{"content": "x", "context": "prod"}"#, "invalid_json"),
        (#"{"content": "x", "principles": "safety"}"#, "invalid_json"),
        (#"{"content": "x", "agent": {"id": "admin"}}"#, "invalid_json"),
        (#"{"contnet": "x"}"#, "invalid_json"),
        (#"{"action": {"type": "shell", "arguments": {}, "extra": 1}}"#, "invalid_json"),
        (#"{}"#, "invalid_request"),
        (#"{"action": {"type": "  "}}"#, "invalid_request"),
        (#"{"content": "x", "principles": ["nope"]}"#, "unknown_principle"),
        (#"{"content": "x", "content": "y"}"#, "invalid_json"),
        (#"{"content": "x"} trailing"#, "invalid_json"),
        (#"{"content": "\ud800"}"#, "invalid_json"),
        (String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000), "invalid_json"),
        (#"{"action": {"type": "shell", "arguments": "#  + String(repeating: #"{"a":"#, count: 200) + "1" + String(repeating: "}", count: 202), "invalid_json"),
        ("", "empty_body"),
    ])
    func validateRejectsMalformedBodies(body: String, code: String) async throws {
        let h = try await Harness()
        let response = try await h.test { client in
            try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: body))
        }
        #expect(response.status == .badRequest, "\(body)")
        #expect(response.errorCode == code, "\(body): \(response.json)")
        #expect(response.json["error"]["message"].stringValue?.isEmpty == false)
        #expect(try await h.store.count() == 0)
    }

    @Test func errorMessagesNameTheField() async throws {
        let h = try await Harness()
        let (typeError, unknown) = try await h.test { client in
            let a = try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: #"{"action": {"type": 7}}"#))
            let b = try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: #"{"contnet": "x"}"#))
            return (a, b)
        }
        #expect(typeError.json["error"]["message"] == "field 'action.type': expected a string, found number")
        #expect(unknown.json["error"]["message"].stringValue?.hasPrefix("field 'contnet': unknown field") == true)
    }

    @Test(arguments: postEndpoints)
    func oversizedBodiesAre413(path: String) async throws {
        let h = try await Harness()
        let size = path.hasSuffix("batch") ? 17 * 1024 * 1024 : 1024 * 1024 + 10
        let body = #"{"content": ""# + String(repeating: "a", count: size) + #""}"#
        let response = try await h.test { client in
            try await client.execute(uri: path, method: .post, headers: h.headers(), body: ByteBuffer(json: body))
        }
        #expect(response.status == .contentTooLarge)
        #expect(response.errorCode == "body_too_large")
        #expect(try await h.store.count() == 0)
    }

    @Test(arguments: postEndpoints)
    func nonJSONContentTypeIs415(path: String) async throws {
        let h = try await Harness()
        let response = try await h.test { client in
            try await client.execute(uri: path, method: .post, headers: h.headers(contentType: "text/plain"), body: ByteBuffer(json: #"{"content": "x"}"#))
        }
        #expect(response.status == .unsupportedMediaType)
        #expect(response.errorCode == "unsupported_media_type")
    }

    @Test func unknownRoutesAndMethodsAnswerJSON() async throws {
        let h = try await Harness()
        let (unknown, wrongMethod) = try await h.test { client in
            let a = try await client.execute(uri: "/api/v1/nothing", method: .get, headers: h.headers())
            let b = try await client.execute(uri: "/health", method: .delete)
            return (a, b)
        }
        #expect(unknown.status == .notFound && unknown.errorCode == "not_found")
        #expect(wrongMethod.status == .notFound && wrongMethod.errorCode == "not_found")
        #expect(wrongMethod.headers[.contentType]?.hasPrefix("application/json") == true)
    }
}

@Suite("Decision cache")
struct DecisionCacheTests {
    @Test func theSameInputWrittenDifferentlyIsACacheHit() async throws {
        let h = try await Harness()
        let (first, second, third) = try await h.test { client in
            let a = try await client.execute(
                uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: #"{"content": "hi", "context": {"a": 1, "b": 2}}"#))
            let b = try await client.execute(
                uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: #"{ "context": {"b": 2, "a": 1},  "content": "hi" }"#))
            let c = try await client.execute(
                uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: #"{"content": "hi", "context": {"a": 1, "b": 3}}"#))
            return (a.json, b.json, c.json)
        }
        #expect(first["metadata"]["cache_hit"] == false)
        #expect(second["metadata"]["cache_hit"] == true)
        #expect(third["metadata"]["cache_hit"] == false)
    }

    @Test func aRepeatedInvalidBodyIsStillRefused() async throws {
        let h = try await Harness()
        let statuses = try await h.test { client in
            var out: [HTTPResponse.Status] = []
            for _ in 0..<2 {
                out.append(try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: #"{"contnet": "x"}"#)).status)
            }
            return out
        }
        #expect(statuses == [.badRequest, .badRequest])
    }
}
