import Foundation
import GovernanceCore

/// A stored decision: what was judged (masked), under which constitution, and the outcome.
public struct DecisionRecord: Sendable, Codable, Hashable {
    public var id: String
    public var createdAt: Date
    public var constitutionHash: String
    public var constitutionVersion: String
    public var outcome: Outcome
    public var score: Double
    /// SHA-256 of the canonical unmasked input, so that a holder of the original can prove it.
    public var inputDigest: String
    /// The judged input with secrets and personal data masked, as canonical JSON.
    public var maskedInput: String
    /// The matching rules with their (masked) evidence, as JSON.
    public var violations: String
    public var agentId: String?
    /// The index of the decision's entry in the audit log, once it has one.
    public var auditIndex: Int?

    public init(
        id: String, createdAt: Date, constitutionHash: String, constitutionVersion: String, outcome: Outcome,
        score: Double, inputDigest: String, maskedInput: String, violations: String, agentId: String?, auditIndex: Int? = nil
    ) {
        self.id = id
        self.createdAt = createdAt
        self.constitutionHash = constitutionHash
        self.constitutionVersion = constitutionVersion
        self.outcome = outcome
        self.score = score
        self.inputDigest = inputDigest
        self.maskedInput = maskedInput
        self.violations = violations
        self.agentId = agentId
        self.auditIndex = auditIndex
    }
}

/// Where decisions are kept. The embedded SQLite store implements it; so will PostgreSQL.
public protocol DecisionRepository: Sendable {
    /// Stores the records durably, all or none.
    func append(_ records: [DecisionRecord]) async throws
    func find(id: String) async throws -> DecisionRecord?
    func count() async throws -> Int
    /// Succeeds when the store can be used now; a cheap check for readiness probes.
    func ping() async throws
}

/// A repository that keeps decisions in memory; for tests and for `acgs validate`.
public actor InMemoryDecisionRepository: DecisionRepository {
    private var records: [String: DecisionRecord] = [:]

    public init() {}

    public func append(_ batch: [DecisionRecord]) async throws {
        for r in batch { records[r.id] = r }
    }

    public func find(id: String) async throws -> DecisionRecord? { records[id] }

    public func count() async throws -> Int { records.count }

    public func ping() async throws {}
}
