import Foundation
import Logging
import NIOPosix
import SQLiteNIO

/// A URL that receives the state changes of review requests, signed with its secret.
public struct WebhookRecord: Sendable, Equatable {
    public var id: String
    /// Whose requests it receives: one agent's, or every agent's (nil; admins only).
    public var agentId: String?
    public var url: String
    /// The HMAC-SHA256 key. Kept, not hashed: every delivery is signed with it.
    public var secret: String
    public var createdBy: String
    public var createdAt: Date

    public init(id: String, agentId: String?, url: String, secret: String, createdBy: String, createdAt: Date) {
        self.id = id
        self.agentId = agentId
        self.url = url
        self.secret = secret
        self.createdBy = createdBy
        self.createdAt = createdAt
    }
}

/// One attempt to deliver one state change to one webhook.
public struct WebhookDelivery: Sendable, Equatable {
    public var id: String
    public var webhookId: String
    public var reviewId: String
    public var state: String
    public var attempt: Int
    /// The receiver's HTTP status, or nil when no answer came.
    public var status: Int?
    public var error: String?
    public var at: Date

    public init(id: String, webhookId: String, reviewId: String, state: String, attempt: Int, status: Int?, error: String?, at: Date) {
        self.id = id
        self.webhookId = webhookId
        self.reviewId = reviewId
        self.state = state
        self.attempt = attempt
        self.status = status
        self.error = error
        self.at = at
    }

    public var succeeded: Bool { status.map { (200..<300).contains($0) } ?? false }
}

/// A change waiting to be delivered: kept until delivered or given up, so that a restart loses none.
public struct WebhookOutboxItem: Sendable, Equatable {
    public var id: String
    public var webhookId: String
    public var reviewId: String
    public var state: String
    public var body: String
    /// Attempts made so far.
    public var attempts: Int
    public var createdAt: Date

    public init(id: String, webhookId: String, reviewId: String, state: String, body: String, attempts: Int = 0, createdAt: Date) {
        self.id = id
        self.webhookId = webhookId
        self.reviewId = reviewId
        self.state = state
        self.body = body
        self.attempts = attempts
        self.createdAt = createdAt
    }
}

/// A replica's hold on outbox items: it delivers them, and no other replica takes them up until
/// `until` has passed without the holder renewing it (the holder died). Several replicas share
/// one outbox on PostgreSQL; without claims each would deliver every item it found at its start.
public struct OutboxClaim: Sendable, Equatable {
    public var owner: String
    public var until: Date

    public init(owner: String, until: Date) {
        self.owner = owner
        self.until = until
    }
}

/// Where webhooks, their outbox and their delivery log are kept.
public protocol WebhookRepository: Sendable {
    /// Whether other processes share this outbox (replicas on PostgreSQL). When none does, every
    /// item is this process's to deliver at start, whatever an earlier run of it claimed.
    var isShared: Bool { get }
    /// Adds changes to the outbox, held by `claim` (nil: free for any replica to take up).
    func enqueue(_ items: [WebhookOutboxItem], claim: OutboxClaim?) async throws
    /// Takes every item that is unclaimed or whose claim expired before `now`; oldest first.
    func take(_ claim: OutboxClaim, now: Date) async throws -> [WebhookOutboxItem]
    /// Extends every claim of `claim.owner` to `claim.until`.
    func renew(_ claim: OutboxClaim) async throws
    /// Records an attempt on an item still to deliver.
    func attempted(_ id: String, attempts: Int) async throws
    /// Removes a delivered or abandoned item.
    func dequeue(_ id: String) async throws
    /// The outbox, oldest first.
    func outbox() async throws -> [WebhookOutboxItem]
    func insert(_ webhook: WebhookRecord) async throws
    func delete(id: String) async throws -> Bool
    func find(id: String) async throws -> WebhookRecord?
    /// The webhooks of `agentId`, or every webhook when nil.
    func list(agentId: String?) async throws -> [WebhookRecord]
    /// The webhooks that receive `agentId`'s requests: its own and the ones for every agent.
    func receivers(of agentId: String) async throws -> [WebhookRecord]
    func log(_ delivery: WebhookDelivery) async throws
    /// A webhook's delivery attempts, most recent first.
    func deliveries(webhookId: String, limit: Int) async throws -> [WebhookDelivery]
}

extension WebhookRepository {
    public var isShared: Bool { false }

    /// Adds changes to the outbox, free for any replica to take up.
    public func enqueue(_ items: [WebhookOutboxItem]) async throws {
        try await enqueue(items, claim: nil)
    }
}

public actor InMemoryWebhookRepository: WebhookRepository {
    private var hooks: [String: WebhookRecord] = [:]
    private var attempts: [WebhookDelivery] = []
    private var pending: [WebhookOutboxItem] = []
    private var claims: [String: OutboxClaim] = [:]
    public nonisolated let isShared: Bool

    /// `shared`: behave as an outbox several replicas share (as on PostgreSQL).
    public init(shared: Bool = false) {
        self.isShared = shared
    }

    public func enqueue(_ items: [WebhookOutboxItem], claim: OutboxClaim?) {
        pending += items
        for item in items { claims[item.id] = claim }
    }

    public func take(_ claim: OutboxClaim, now: Date) -> [WebhookOutboxItem] {
        let free = pending.filter { claims[$0.id].map { $0.until < now } ?? true }
        for item in free { claims[item.id] = claim }
        return free.sorted { $0.createdAt < $1.createdAt }
    }

    public func renew(_ claim: OutboxClaim) {
        for (id, held) in claims where held.owner == claim.owner { claims[id] = claim }
    }

    public func attempted(_ id: String, attempts: Int) {
        if let i = pending.firstIndex(where: { $0.id == id }) { pending[i].attempts = attempts }
    }

    public func dequeue(_ id: String) {
        pending.removeAll { $0.id == id }
        claims[id] = nil
    }
    public func outbox() -> [WebhookOutboxItem] { pending }

    public func insert(_ webhook: WebhookRecord) { hooks[webhook.id] = webhook }
    public func delete(id: String) -> Bool { hooks.removeValue(forKey: id) != nil }
    public func find(id: String) -> WebhookRecord? { hooks[id] }

    public func list(agentId: String?) -> [WebhookRecord] {
        hooks.values.filter { agentId == nil || $0.agentId == agentId }.sorted { $0.createdAt < $1.createdAt }
    }

    public func receivers(of agentId: String) -> [WebhookRecord] {
        hooks.values.filter { $0.agentId == nil || $0.agentId == agentId }.sorted { $0.createdAt < $1.createdAt }
    }

    public func log(_ delivery: WebhookDelivery) { attempts.append(delivery) }

    public func deliveries(webhookId: String, limit: Int) -> [WebhookDelivery] {
        Array(attempts.filter { $0.webhookId == webhookId }.reversed().prefix(limit))
    }
}

public final class SQLiteWebhookRepository: WebhookRepository {
    let connection: SQLiteStoreConnection

    static let migrations: [SQLiteDatabase.Migration] = [
        (
            1,
            [
                """
                CREATE TABLE webhooks (
                    id TEXT PRIMARY KEY, agent_id TEXT, url TEXT NOT NULL, secret TEXT NOT NULL, created_by TEXT NOT NULL, created_at REAL NOT NULL
                )
                """,
                "CREATE INDEX webhooks_agent ON webhooks (agent_id)",
                """
                CREATE TABLE webhook_deliveries (
                    id TEXT NOT NULL, webhook_id TEXT NOT NULL, review_id TEXT NOT NULL, state TEXT NOT NULL, attempt INTEGER NOT NULL,
                    status INTEGER, error TEXT, at REAL NOT NULL
                )
                """,
                "CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, at)",
            ]
        ),
        (
            2,
            [
                """
                CREATE TABLE webhook_outbox (
                    id TEXT PRIMARY KEY, webhook_id TEXT NOT NULL, review_id TEXT NOT NULL, state TEXT NOT NULL, body TEXT NOT NULL,
                    attempts INTEGER NOT NULL, created_at REAL NOT NULL
                )
                """
            ]
        ),
        (
            3,
            [
                "ALTER TABLE webhook_outbox ADD COLUMN claimed_by TEXT",
                "ALTER TABLE webhook_outbox ADD COLUMN claimed_until REAL",
            ]
        ),
    ]

    private init(connection: SQLiteStoreConnection) {
        self.connection = connection
    }

    public static func open(path: String, logger: Logger = Logger(label: "acgs.webhooks")) async throws -> SQLiteWebhookRepository {
        let connection = try await SQLiteDatabase.openOnOwnThread(path: path, logger: logger) { connection in
            try await SQLiteDatabase.migrate(connection, table: "webhook_schema_migrations", migrations)
        }
        return SQLiteWebhookRepository(connection: connection)
    }

    public func close() async throws {
        try await connection.close()
    }

    public func enqueue(_ items: [WebhookOutboxItem], claim: OutboxClaim?) async throws {
        guard !items.isEmpty else { return }
        var binds: [SQLiteData] = []
        for i in items {
            binds += [
                .text(i.id), .text(i.webhookId), .text(i.reviewId), .text(i.state), .text(i.body), .integer(i.attempts),
                .float(i.createdAt.timeIntervalSince1970), claim.map { .text($0.owner) } ?? .null,
                claim.map { .float($0.until.timeIntervalSince1970) } ?? .null,
            ]
        }
        _ = try await connection.query(
            "INSERT INTO webhook_outbox (id, webhook_id, review_id, state, body, attempts, created_at, claimed_by, claimed_until) VALUES "
                + Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?)", count: items.count).joined(separator: ", "), binds)
    }

    public func take(_ claim: OutboxClaim, now: Date) async throws -> [WebhookOutboxItem] {
        // One statement: the file has one writer, so two replicas cannot take the same item.
        let rows = try await connection.query(
            """
            UPDATE webhook_outbox SET claimed_by = ?, claimed_until = ? WHERE claimed_until IS NULL OR claimed_until < ?
            RETURNING *, rowid AS position
            """, [.text(claim.owner), .float(claim.until.timeIntervalSince1970), .float(now.timeIntervalSince1970)])
        // RETURNING follows no order: the outbox's own (created_at, rowid) is restored here.
        let taken = rows.compactMap { row in Self.item(row).map { (position: row.column("position")?.integer ?? 0, item: $0) } }
        return taken.sorted { ($0.item.createdAt, $0.position) < ($1.item.createdAt, $1.position) }.map(\.item)
    }

    public func renew(_ claim: OutboxClaim) async throws {
        _ = try await connection.query(
            "UPDATE webhook_outbox SET claimed_until = ? WHERE claimed_by = ?", [.float(claim.until.timeIntervalSince1970), .text(claim.owner)])
    }

    public func attempted(_ id: String, attempts: Int) async throws {
        _ = try await connection.query("UPDATE webhook_outbox SET attempts = ? WHERE id = ?", [.integer(attempts), .text(id)])
    }

    public func dequeue(_ id: String) async throws {
        _ = try await connection.query("DELETE FROM webhook_outbox WHERE id = ?", [.text(id)])
    }

    public func outbox() async throws -> [WebhookOutboxItem] {
        try await connection.query("SELECT * FROM webhook_outbox ORDER BY created_at, rowid").compactMap(Self.item)
    }

    private static func item(_ row: any SQLiteResultRow) -> WebhookOutboxItem? {
        guard let id = row.column("id")?.string, let hook = row.column("webhook_id")?.string, let review = row.column("review_id")?.string,
            let state = row.column("state")?.string, let body = row.column("body")?.string, let attempts = row.column("attempts")?.integer,
            let created = row.column("created_at")?.double
        else { return nil }
        return WebhookOutboxItem(
            id: id, webhookId: hook, reviewId: review, state: state, body: body, attempts: attempts, createdAt: Date(timeIntervalSince1970: created))
    }

    public func insert(_ w: WebhookRecord) async throws {
        _ = try await connection.query(
            "INSERT INTO webhooks (id, agent_id, url, secret, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [.text(w.id), w.agentId.map { .text($0) } ?? .null, .text(w.url), .text(w.secret), .text(w.createdBy), .float(w.createdAt.timeIntervalSince1970)])
    }

    public func delete(id: String) async throws -> Bool {
        !(try await connection.query("DELETE FROM webhooks WHERE id = ? RETURNING id", [.text(id)])).isEmpty
    }

    public func find(id: String) async throws -> WebhookRecord? {
        try await connection.query("SELECT * FROM webhooks WHERE id = ?", [.text(id)]).first.flatMap(Self.webhook)
    }

    public func list(agentId: String?) async throws -> [WebhookRecord] {
        if let agentId {
            return try await connection.query("SELECT * FROM webhooks WHERE agent_id = ? ORDER BY created_at", [.text(agentId)]).compactMap(Self.webhook)
        }
        return try await connection.query("SELECT * FROM webhooks ORDER BY created_at").compactMap(Self.webhook)
    }

    public func receivers(of agentId: String) async throws -> [WebhookRecord] {
        try await connection.query("SELECT * FROM webhooks WHERE agent_id = ? OR agent_id IS NULL ORDER BY created_at", [.text(agentId)])
            .compactMap(Self.webhook)
    }

    public func log(_ d: WebhookDelivery) async throws {
        _ = try await connection.query(
            "INSERT INTO webhook_deliveries (id, webhook_id, review_id, state, attempt, status, error, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                .text(d.id), .text(d.webhookId), .text(d.reviewId), .text(d.state), .integer(d.attempt), d.status.map { .integer($0) } ?? .null,
                d.error.map { .text($0) } ?? .null, .float(d.at.timeIntervalSince1970),
            ])
    }

    public func deliveries(webhookId: String, limit: Int) async throws -> [WebhookDelivery] {
        try await connection.query(
            "SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY at DESC LIMIT ?", [.text(webhookId), .integer(limit)]
        ).compactMap { row in
            guard let id = row.column("id")?.string, let hook = row.column("webhook_id")?.string, let review = row.column("review_id")?.string,
                let state = row.column("state")?.string, let attempt = row.column("attempt")?.integer, let at = row.column("at")?.double
            else { return nil }
            return WebhookDelivery(
                id: id, webhookId: hook, reviewId: review, state: state, attempt: attempt, status: row.column("status")?.integer,
                error: row.column("error")?.string, at: Date(timeIntervalSince1970: at))
        }
    }

    private static func webhook(_ row: any SQLiteResultRow) -> WebhookRecord? {
        guard let id = row.column("id")?.string, let url = row.column("url")?.string, let secret = row.column("secret")?.string,
            let by = row.column("created_by")?.string, let at = row.column("created_at")?.double
        else { return nil }
        return WebhookRecord(
            id: id, agentId: row.column("agent_id")?.string, url: url, secret: secret, createdBy: by, createdAt: Date(timeIntervalSince1970: at))
    }
}
