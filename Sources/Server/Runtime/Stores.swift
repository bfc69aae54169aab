import Foundation
import Logging
import ServiceLifecycle
import Storage

/// The repositories a runtime stands on, on one backend: the embedded SQLite file in the data
/// directory, or the PostgreSQL database that replicas share.
public struct Stores: Sendable {
    public var identities: any IdentityRepository
    public var audit: any AuditRepository
    public var reviews: any ReviewRepository
    public var webhooks: any WebhookRepository
    /// Work the backend needs while the server runs (SQLite's checkpoints).
    public var services: [any Service]
    private let closeAll: @Sendable () async -> Void

    public func close() async { await closeAll() }

    /// The embedded store: every repository in `acgs.sqlite` in the data directory.
    public static func embedded(directory: String, logger: Logger) async throws -> Stores {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let database = directory + "/acgs.sqlite"
        var opened: [@Sendable () async -> Void] = []
        do {
            let identities = try await SQLiteIdentityRepository.open(path: database, logger: logger)
            opened.append { try? await identities.close() }
            let audit = try await SQLiteAuditRepository.open(path: database, logger: logger)
            opened.append { try? await audit.close() }
            let reviews = try await SQLiteReviewRepository.open(path: database, logger: logger)
            opened.append { try? await reviews.close() }
            let webhooks = try await SQLiteWebhookRepository.open(path: database, logger: logger)
            opened.append { try? await webhooks.close() }
            return Stores(
                identities: identities, audit: audit, reviews: reviews, webhooks: webhooks,
                services: [SQLiteCheckpointer(repository: audit, logger: logger)], closeAll: inReverse(opened))
        } catch {
            await inReverse(opened)()
            throw error
        }
    }

    /// Closes what was opened, the last first.
    private static func inReverse(_ closers: [@Sendable () async -> Void]) -> @Sendable () async -> Void {
        { for close in closers.reversed() { await close() } }
    }

    /// The shared store, its schema brought up to date first. The pool itself runs as a service of
    /// its own, started before this is called and stopped after the server.
    public static func postgres(_ database: PostgresStore) async throws -> Stores {
        try await database.migrate()
        return Stores(
            identities: PostgresIdentityRepository(store: database), audit: PostgresAuditRepository(store: database),
            reviews: PostgresReviewRepository(store: database), webhooks: PostgresWebhookRepository(store: database), services: [],
            closeAll: {})
    }
}
