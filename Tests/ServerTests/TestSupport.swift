import HTTPTypes
import Foundation
import GovernanceCore
import Hummingbird
import HummingbirdTesting
import Storage
import Testing

@testable import Server

/// A small constitution with one rule of each effect, so router tests do not depend on the wording
/// of the reference constitution.
let testConstitutionSource = """
    metadata:
      name: Router Test Constitution
      version: 3.1.4
    principles:
      - id: safety
        title: Safety
        description: No destruction.
        category: safety
        severity: critical
      - id: oversight
        title: Oversight
        description: People review risky changes.
        category: oversight
        severity: high
    rules:
      - id: no-recursive-delete
        principle: safety
        effect: deny
        severity: critical
        message: Recursive deletion
        condition: action.type == "shell" && containsAnyWord(action.arguments, ["rm -rf"])
      - id: no-secrets
        principle: safety
        effect: deny
        severity: high
        message: Secret in the input
        condition: secret(input)
      - id: production-change
        principle: oversight
        effect: escalate
        severity: high
        message: Production change needs review
        condition: context.environment == "production"
      - id: large-payment
        principle: oversight
        effect: warn
        severity: low
        message: Large amount
        condition: context.amount > 1000
    """

struct FailingRepository: DecisionRepository {
    struct Down: Error {}
    func append(_ records: [DecisionRecord]) async throws { throw Down() }
    func find(id: String) async throws -> DecisionRecord? { throw Down() }
    func count() async throws -> Int { throw Down() }
    func ping() async throws { throw Down() }
}

struct Harness {
    let runtime: GovernanceRuntime
    let store: any DecisionRepository
    var hash: String { runtime.activeHash }

    init(store: any DecisionRepository = InMemoryDecisionRepository()) throws {
        self.store = store
        self.runtime = GovernanceRuntime(constitution: try CompiledConstitution(source: testConstitutionSource), decisions: store)
    }

    func test<T>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        let app = Application(router: buildRouter(service: .constitutionalAI, runtime: runtime))
        return try await app.test(.router, body)
    }

    func headers(hash: String? = nil, contentType: String? = "application/json") -> HTTPFields {
        var h: HTTPFields = [:]
        if let contentType { h[.contentType] = contentType }
        h[HTTPField.Name("X-Constitutional-Hash")!] = hash ?? self.hash
        return h
    }
}

extension ByteBuffer {
    init(json: String) { self.init(string: json) }
    var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(readableBytesView)) }
}

extension TestResponse {
    var json: JSONValue { body.json ?? .null }
    var errorCode: String? { json["error"]["code"].stringValue }
}
