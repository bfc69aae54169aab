import AuditLog
import GovernanceCore
import Identity
import Storage

/// Auth events go into the audit log as `auth` entries, durably, before the operation answers.
public struct AuditAuthEventSink: AuthEventSink {
    let log: AuditLogWriter
    let constitutionalHash: @Sendable () -> String

    public init(log: AuditLogWriter, constitutionalHash: @escaping @Sendable () -> String) {
        self.log = log
        self.constitutionalHash = constitutionalHash
    }

    public func record(_ event: AuthEvent) async throws {
        var payload: [String: JSONValue] = ["event": .string(event.kind.rawValue)]
        // Details hold ids, prefixes and reasons only (see `AuthEvent`).
        if !event.details.isEmpty { payload["details"] = .object(event.details.mapValues(JSONValue.string)) }
        _ = try await log.append(
            AuditEvent(
                type: .auth, actor: event.actor ?? "anonymous", constitutionalHash: constitutionalHash(),
                subjects: event.subject.map { [$0] } ?? [], payload: .object(payload)))
    }
}
