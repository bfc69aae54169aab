import AuditLog
import Cache
import Foundation
import GovernanceCore
import Identity
import Logging
import Storage
import Synchronization

/// The shared core that every service listener stands on: the active constitution, the decision
/// cache, the decision store, the audit log and the metrics. One per process.
public final class GovernanceRuntime: Sendable {
    private let active: ActiveConstitution
    public let decisions: any DecisionRepository
    public let auditLog: AuditLogWriter
    public let treeHeads: TreeHeadSigner
    public let reviews: ReviewDesk
    public let auth: AuthService
    public let cache: LRUCache<String, CachedEvaluation>
    /// Review requests' bodies as checked and judged, by `RequestBodyKey` ("opening").
    let openings: LRUCache<String, ReviewDesk.Opening>
    /// The Redis tier under `cache`, when the deployment has Redis.
    public let l2: L2Cache?
    public let metrics: ACGSMetrics
    public let logger: Logger
    public let startedAt: ContinuousClock.Instant = .now
    /// `/metrics` admits only admins and auditors.
    public let metricsRequireAuth: Bool
    let decisionIDs = DecisionIDs()

    /// `treeHeads` signs over `auditLog`; auth events go to the audit log unless `authEvents` is given.
    public init(
        constitution: CompiledConstitution, decisions: any DecisionRepository, treeHeads: TreeHeadSigner, identities: any IdentityRepository,
        tokens: TokenService, reviews: any ReviewRepository = InMemoryReviewRepository(), reviewPolicy: ReviewPolicy = ReviewPolicy(),
        webhooks: WebhookDispatcher = WebhookDispatcher(repository: InMemoryWebhookRepository()),
        authEvents: (any AuthEventSink)? = nil, authPolicy: AuthPolicy = AuthPolicy(), cacheCapacity: Int = 10_000,
        cacheTTL: Duration = .seconds(300), l2: L2Cache? = nil, metrics: ACGSMetrics = ACGSMetrics(), metricsRequireAuth: Bool = false,
        logger: Logger = Logger(label: "acgs")
    ) {
        self.l2 = l2
        self.metricsRequireAuth = metricsRequireAuth
        let active = ActiveConstitution(constitution)
        self.active = active
        self.auditLog = treeHeads.log
        self.treeHeads = treeHeads
        self.reviews = ReviewDesk(
            repository: reviews, policy: reviewPolicy, audit: treeHeads.log,
            reviewers: { roles in
                try await identities.listUsers()
                    .filter { $0.status == .active && !Set($0.roles.map(\.rawValue)).isDisjoint(with: roles) }
                    .map { ReviewActor(id: $0.id, roles: Set($0.roles.map(\.rawValue))) }
            },
            delegates: { agentId in
                // An agent's owner acts for it when the owner names a user, by id or by username.
                guard let owner = try await identities.agent(id: agentId)?.owner else { return [] }
                if let user = try await identities.user(id: owner) { return [user.id] }
                if let user = try await identities.user(username: owner) { return [user.id] }
                return []
            },
            webhooks: webhooks, metrics: metrics, logger: logger)
        self.auth = AuthService(
            repository: identities, tokens: tokens,
            events: authEvents ?? AuditAuthEventSink(log: treeHeads.log, constitutionalHash: { active.current.hash }), policy: authPolicy,
            cacheCapacity: cacheCapacity, constitutionalHash: { active.current.hash })
        self.decisions = decisions
        self.cache = LRUCache(capacity: cacheCapacity, ttl: cacheTTL)
        self.openings = LRUCache(capacity: cacheCapacity, ttl: cacheTTL)
        self.metrics = metrics
        self.logger = logger
    }

    public var constitution: CompiledConstitution { active.current }
    public var activeHash: String { constitution.hash }

    public var uptimeSeconds: Double {
        (ContinuousClock.now - startedAt).seconds
    }
}

/// The constitution in force, swapped as a whole when an amendment is ratified.
final class ActiveConstitution: Sendable {
    private let value: Mutex<CompiledConstitution>

    init(_ constitution: CompiledConstitution) { value = Mutex(constitution) }

    var current: CompiledConstitution { value.withLock { $0 } }
}

/// What the cache keeps for an input: the evaluation and what the decision record needs, so that a
/// hit neither evaluates nor masks again.
public struct CachedEvaluation: Sendable, Codable {
    public var evaluation: Evaluation
    public var inputDigest: String
    public var maskedInput: String
    public var violationsJSON: JSONValue
    public var violationsText: String
    public var evaluationJSON: String

    init(evaluation: Evaluation, inputDigest: String, maskedInput: String, violationsJSON: JSONValue, violationsText: String, evaluationJSON: String) {
        self.evaluation = evaluation
        self.inputDigest = inputDigest
        self.maskedInput = maskedInput
        self.violationsJSON = violationsJSON
        self.violationsText = violationsText
        self.evaluationJSON = evaluationJSON
    }

    // In the L2 the violations are kept once, as text; their JSON value is parsed back from it.
    enum CodingKeys: String, CodingKey {
        case evaluation, inputDigest, maskedInput, violationsText, evaluationJSON
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        evaluation = try c.decode(Evaluation.self, forKey: .evaluation)
        inputDigest = try c.decode(String.self, forKey: .inputDigest)
        maskedInput = try c.decode(String.self, forKey: .maskedInput)
        violationsText = try c.decode(String.self, forKey: .violationsText)
        evaluationJSON = try c.decode(String.self, forKey: .evaluationJSON)
        violationsJSON = try JSONValue.parse(violationsText)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(evaluation, forKey: .evaluation)
        try c.encode(inputDigest, forKey: .inputDigest)
        try c.encode(maskedInput, forKey: .maskedInput)
        try c.encode(violationsText, forKey: .violationsText)
        try c.encode(evaluationJSON, forKey: .evaluationJSON)
    }
}

/// Decision ids: unique across processes (a random instance prefix) and cheap within one (a
/// counter), instead of a random UUID per request.
final class DecisionIDs: Sendable {
    private let instance: String
    private let counter = Atomic<UInt64>(0)

    init() {
        var generator = SystemRandomNumberGenerator()
        instance = String(generator.next() as UInt64, radix: 16).leftPadded(to: 16)
    }

    func next() -> String {
        let n = counter.add(1, ordering: .relaxed).newValue
        let counter = String(n, radix: 16)
        var id = "dec_"
        id.reserveCapacity(4 + instance.utf8.count + max(12, counter.utf8.count))
        id += instance
        id += String(repeating: "0", count: max(0, 12 - counter.utf8.count))
        id += counter
        return id
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
