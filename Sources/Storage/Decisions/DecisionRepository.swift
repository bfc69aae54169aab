import AuditLog
import Foundation
import GovernanceCore

/// A decision as recorded: what was judged (masked), under which constitution, and the outcome. It is
/// read from the decision's audit entry, which is the only record of it.
public struct DecisionRecord: Sendable, Hashable {
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
    /// The matching rules with their (masked) evidence, as canonical JSON.
    public var violations: String
    public var agentId: String?
    /// The index of the decision's entry in the audit log.
    public var auditIndex: Int

    /// The decision an audit entry records, or nil if the entry is not a well-formed decision entry.
    public init?(entry stored: StoredAuditEntry) {
        guard stored.type == .decision, let entry = try? AuditEntry(text: stored.text),
            let payload = try? JSONValue.parse(entry.event.payload), let id = payload["decision_id"].stringValue,
            let version = payload["constitution_version"].stringValue,
            let outcome = payload["evaluation"]["decision"].stringValue.flatMap(Outcome.init(rawValue:)),
            let score = payload["evaluation"]["score"].numberValue
        else { return nil }
        self.id = id
        self.createdAt = Date(timeIntervalSince1970: Double(stored.timestampMilliseconds) / 1000)
        self.constitutionHash = entry.event.constitutionalHash
        self.constitutionVersion = version
        self.outcome = outcome
        self.score = score
        self.inputDigest = entry.event.inputDigest ?? ""
        self.maskedInput = CanonicalJSON.encode(payload["input"])
        self.violations = CanonicalJSON.encode(payload["evaluation"]["violations"])
        self.agentId = entry.event.subjects.count > 1 ? entry.event.subjects[1] : nil
        self.auditIndex = stored.index
    }
}

/// Where decisions are found. Decisions are written as audit entries (see `AuditLogWriter`); the
/// audit repositories answer for them.
public protocol DecisionRepository: Sendable {
    func find(id: String) async throws -> DecisionRecord?
    func count() async throws -> Int
    /// Succeeds when the store can be used now; a cheap check for readiness probes.
    func ping() async throws
}
