import Foundation
import Logging
import Synchronization

/// Something that happened to an identity or a credential, for the audit log. No secret, password
/// or token ever goes into an event: only ids, prefixes and outcomes.
public struct AuthEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case loginSucceeded = "login_succeeded"
        case loginFailed = "login_failed"
        case lockedOut = "locked_out"
        case tokenIssued = "token_issued"
        case tokenRefreshed = "token_refreshed"
        case tokenRevoked = "token_revoked"
        case refreshReuseDetected = "refresh_reuse_detected"
        case logout
        case apiKeyCreated = "api_key_created"
        case apiKeyRevoked = "api_key_revoked"
        case identityCreated = "identity_created"
        case identityUpdated = "identity_updated"
        case identityDeleted = "identity_deleted"
        case roleChanged = "role_changed"
        case statusChanged = "status_changed"
        case passwordChanged = "password_changed"
        case mfaEnrolled = "mfa_enrolled"
        case mfaConfirmed = "mfa_confirmed"
        case signingKeyRotated = "signing_key_rotated"
    }

    public var kind: Kind
    /// Who acted (an identity id), or nil for an anonymous attempt.
    public var actor: String?
    /// What it was about (an identity, key or token id).
    public var subject: String?
    public var at: Date
    public var details: [String: String]

    public init(_ kind: Kind, actor: String?, subject: String?, at: Date = Date(), details: [String: String] = [:]) {
        self.kind = kind
        self.actor = actor
        self.subject = subject
        self.at = at
        self.details = details
    }
}

/// Where auth events go: the audit log in a server. Recording is part of the operation: when the
/// event cannot be recorded the sink throws, and the operation fails rather than go unrecorded.
public protocol AuthEventSink: Sendable {
    func record(_ event: AuthEvent) async throws
}

/// Writes events to the log at `notice`.
public struct LoggingAuthEventSink: AuthEventSink {
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func record(_ event: AuthEvent) async throws {
        var metadata: Logger.Metadata = ["event": "\(event.kind.rawValue)"]
        if let actor = event.actor { metadata["actor"] = "\(actor)" }
        if let subject = event.subject { metadata["subject"] = "\(subject)" }
        for (k, v) in event.details { metadata[k] = "\(v)" }
        logger.notice("auth event", metadata: metadata)
    }
}

/// Keeps events in memory; for tests.
public final class RecordingAuthEventSink: AuthEventSink {
    private let storage = Mutex<[AuthEvent]>([])

    public init() {}

    public func record(_ event: AuthEvent) async throws { storage.withLock { $0.append(event) } }

    public var events: [AuthEvent] { storage.withLock { $0 } }
}

extension AuthService {
    /// Records an event; an event that cannot be recorded fails the operation as unavailable.
    func recordEvent(_ event: AuthEvent) async throws(AuthError) {
        do {
            try await events.record(event)
        } catch {
            throw .unavailable
        }
    }
}
