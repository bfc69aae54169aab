import HTTPTypes
import Foundation
import Cache
import GovernanceCore
import Hummingbird
import HummingbirdTesting
import Identity
import Storage
import TestServers
import Testing

@testable import Server

/// A small constitution with rules of each effect, so router tests do not depend on the wording
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
      - id: outside-upload
        principle: oversight
        effect: escalate
        severity: medium
        message: Upload to a service outside the organisation
        condition: action.type == "upload"
      - id: large-payment
        principle: oversight
        effect: warn
        severity: low
        message: Large amount
        condition: context.amount > 1000
    """

/// The store the router tests run on: memory by default; PostgreSQL when `ACGS_TEST_STORE=postgres`
/// (the test command runs the suite both ways), each harness on a database of its own.
enum TestStore: String {
    case memory, postgres
    static let current = TestStore(rawValue: ProcessInfo.processInfo.environment["ACGS_TEST_STORE"] ?? "memory") ?? .memory
    /// Failures injected into the store need the in-memory one.
    static var canInjectFailures: Bool { current == .memory }
}

/// A PostgreSQL pool that runs for as long as its harness is referenced.
final class RunningPool: Sendable {
    let store: PostgresStore
    private let task: Task<Void, Never>

    init(url: String) throws {
        // The router tests run dozens of harnesses at once on two cores, each on a database of its
        // own: the production deadline of 2 s made an append fail closed in CI now and then. The
        // deadline itself is tested on its own (PostgresStoreTests).
        let store = try PostgresStore(url: url, maximumConnections: 4, timeout: .seconds(15))
        self.store = store
        task = Task { await store.run() }
    }

    deinit { task.cancel() }
}

struct Harness {
    let runtime: GovernanceRuntime
    /// The audit log, where decisions are recorded.
    let audit: any AuditRepository
    var store: any AuditRepository { audit }
    let identities: any IdentityRepository
    let events = RecordingAuthEventSink()
    /// An active agent and its API key, sent by default.
    let agent: AgentRecord
    let agentKey: String
    let pool: RunningPool?
    var hash: String { runtime.activeHash }
    var auth: AuthService { runtime.auth }

    /// Auth events go to `events` unless `authEventsToAuditLog`, when they go to the audit log as in a server.
    /// `replicaOf` makes a second replica of a deployment: the same identities and test agent, its own
    /// audit log and caches. Webhooks may deliver to the loopback receivers of the tests unless
    /// `allowsPrivateWebhooks` is false, as in a default deployment.
    init(
        authEventsToAuditLog: Bool = false, l2: L2Cache? = nil, replicaOf other: Harness? = nil, allowsPrivateWebhooks: Bool = true
    ) async throws {
        let webhooks: any WebhookRepository
        let reviews: any ReviewRepository
        switch TestStore.current {
        case .memory:
            pool = nil
            audit = InMemoryAuditRepository()
            identities = other?.identities ?? InMemoryIdentityRepository()
            reviews = InMemoryReviewRepository()
            webhooks = InMemoryWebhookRepository()
        case .postgres:
            let url = try await onOwnThread { try PostgresServer.shared().freshDatabase() }
            let running = try RunningPool(url: url)
            pool = running
            let stores = try await Stores.postgres(running.store)
            audit = stores.audit
            identities = other?.identities ?? stores.identities
            reviews = stores.reviews
            webhooks = stores.webhooks
        }
        let dispatcher = WebhookDispatcher(
            repository: webhooks, backoff: [.milliseconds(50), .milliseconds(100)], timeout: 2, allowsPrivateNetworks: allowsPrivateWebhooks)
        var policy = AuthPolicy()
        policy.bcryptCost = 4  // fast tests; production uses 12
        let keys = try await SigningKeyStore(directory: try temporaryDirectory() + "/keys", retiredKeyLifetime: policy.accessTokenLifetime)
        let tokens = await TokenService(keys: keys, issuer: policy.issuer, audience: policy.audience, lifetime: policy.accessTokenLifetime)
        let constitution = try CompiledConstitution(source: testConstitutionSource)
        let treeHeads = try await TreeHeadSigner(
            log: try await AuditLogWriter.open(repository: audit), keys: try await AuditSigningKeys.open(dataDirectory: try temporaryDirectory()),
            constitutionalHash: { constitution.hash })
        self.runtime = GovernanceRuntime(
            constitution: constitution, decisions: audit, treeHeads: treeHeads, identities: identities, tokens: tokens, reviews: reviews,
            webhooks: dispatcher, authEvents: authEventsToAuditLog ? nil : events, authPolicy: policy, l2: l2)
        if let other {
            agent = other.agent
            agentKey = other.agentKey
        } else {
            agent = try await runtime.auth.createAgent(name: "test-agent", owner: "tests", by: nil)
            agentKey = try await runtime.auth.createAPIKey(agentId: agent.id, expiresAt: nil, by: nil).key
        }
    }

    /// Makes the in-memory audit store fail or work again (tests enabled only on `TestStore.canInjectFailures`).
    func setAuditFailing(_ failing: Bool) async {
        await (audit as? InMemoryAuditRepository)?.setFailing(failing)
    }

    /// Makes only the in-memory audit store's appends fail (reads still work).
    func setAuditWritesFailing(_ failing: Bool) async {
        await (audit as? InMemoryAuditRepository)?.setFailingWrites(failing)
    }

    func test<T>(service: ServiceName = .constitutionalAI, _ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        let app = Application(router: buildRouter(service: service, runtime: runtime))
        return try await app.test(.router, body)
    }

    /// Headers of an API request: JSON, the active hash, and the test agent's key unless told otherwise.
    func headers(hash: String? = nil, contentType: String? = "application/json", bearer: String?? = .none) -> HTTPFields {
        var h: HTTPFields = [:]
        if let contentType { h[.contentType] = contentType }
        h[HTTPField.Name("X-Constitutional-Hash")!] = hash ?? self.hash
        switch bearer {
        case .none: h[.authorization] = "Bearer \(agentKey)"
        case .some(.none): break
        case .some(.some(let token)): h[.authorization] = "Bearer \(token)"
        }
        return h
    }

    /// A person with these roles and a password, signed in; returns the access token.
    func signIn(roles: [Role], username: String = "person-\(Int.random(in: 0..<1_000_000))", password: String = "correct horse battery staple") async throws -> (UserRecord, String) {
        let user = try await auth.createUser(username: username, password: password, roles: roles, by: nil)
        let grant = try await auth.passwordGrant(username: username, password: password, otp: nil)
        return (user, grant.accessToken)
    }
}

func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("acgs-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

extension ByteBuffer {
    init(json: String) { self.init(string: json) }
    var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(readableBytesView)) }
}

extension TestResponse {
    var json: JSONValue { body.json ?? .null }
    var errorCode: String? { json["error"]["code"].stringValue }
}
