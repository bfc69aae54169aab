import Foundation
import PostgresNIO

/// Webhooks, their outbox and their delivery log in PostgreSQL, shared by every replica.
///
/// SQLite orders the outbox and the log by `rowid`; here an identity column keeps the order in
/// which rows were added, whichever replica added them.
public final class PostgresWebhookRepository: WebhookRepository {
    let store: PostgresStore

    public init(store: PostgresStore) {
        self.store = store
    }

    public var isShared: Bool { true }

    static let migration = PostgresMigration(
        version: 4, name: "webhooks",
        statements: [
            """
            CREATE TABLE webhooks (
                id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
                agent_id TEXT,
                url TEXT NOT NULL,
                secret TEXT NOT NULL,
                created_by TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL
            )
            """,
            "CREATE INDEX webhooks_agent ON webhooks (agent_id)",
            """
            CREATE TABLE webhook_deliveries (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id TEXT NOT NULL,
                webhook_id TEXT NOT NULL,
                review_id TEXT NOT NULL,
                state TEXT NOT NULL,
                attempt BIGINT NOT NULL,
                status BIGINT,
                error TEXT,
                at TIMESTAMPTZ NOT NULL
            )
            """,
            "CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, at, seq)",
            """
            CREATE TABLE webhook_outbox (
                seq BIGINT GENERATED ALWAYS AS IDENTITY,
                id TEXT NOT NULL PRIMARY KEY,
                webhook_id TEXT NOT NULL,
                review_id TEXT NOT NULL,
                state TEXT NOT NULL,
                body TEXT NOT NULL,
                attempts BIGINT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL
            )
            """,
            "CREATE INDEX webhook_outbox_order ON webhook_outbox (created_at, seq)",
        ])

    static let claims = PostgresMigration(
        version: 7, name: "webhook outbox claims",
        statements: [
            "ALTER TABLE webhook_outbox ADD COLUMN claimed_by TEXT, ADD COLUMN claimed_until TIMESTAMPTZ"
        ])

    // MARK: Outbox

    public func enqueue(_ items: [WebhookOutboxItem], claim: OutboxClaim?) async throws {
        guard !items.isEmpty else { return }
        // One statement for the batch, all or none: each column bound as an array. `WITH
        // ORDINALITY` keeps the batch's order for the identity column.
        try await store.query(
            """
            INSERT INTO webhook_outbox (id, webhook_id, review_id, state, body, attempts, created_at, claimed_by, claimed_until)
            SELECT id, webhook_id, review_id, state, body, attempts, created_at, \(claim?.owner), \(timestamp: claim?.until)
            FROM unnest(\(items.map(\.id)), \(items.map(\.webhookId)), \(items.map(\.reviewId)), \(items.map(\.state)),
                \(items.map(\.body)), \(items.map(\.attempts)), \(items.map { PostgresTimestamp($0.createdAt) }))
                WITH ORDINALITY AS batch (id, webhook_id, review_id, state, body, attempts, created_at, position)
            ORDER BY position
            """)
    }

    public func take(_ claim: OutboxClaim, now: Date) async throws -> [WebhookOutboxItem] {
        // Rows another replica is taking at this moment are skipped, not waited for: it holds them.
        let rows = try await store.query(
            """
            UPDATE webhook_outbox SET claimed_by = \(claim.owner), claimed_until = \(timestamp: claim.until)
            WHERE id IN (
                SELECT id FROM webhook_outbox WHERE claimed_until IS NULL OR claimed_until < \(timestamp: now) FOR UPDATE SKIP LOCKED
            )
            RETURNING *
            """)
        let taken = try rows.map { row in (seq: try PostgresRowReader(row, table: "webhook_outbox").value("seq", as: Int.self), item: try Self.item(row)) }
        return taken.sorted { ($0.item.createdAt, $0.seq) < ($1.item.createdAt, $1.seq) }.map(\.item)
    }

    public func renew(_ claim: OutboxClaim) async throws {
        try await store.query("UPDATE webhook_outbox SET claimed_until = \(timestamp: claim.until) WHERE claimed_by = \(claim.owner)")
    }

    public func attempted(_ id: String, attempts: Int) async throws {
        // Never backwards: a replica that resumed the same item late must not undo another's count.
        try await store.query("UPDATE webhook_outbox SET attempts = GREATEST(attempts, \(attempts)) WHERE id = \(id)")
    }

    public func dequeue(_ id: String) async throws {
        try await store.query("DELETE FROM webhook_outbox WHERE id = \(id)")
    }

    public func outbox() async throws -> [WebhookOutboxItem] {
        try await store.query("SELECT * FROM webhook_outbox ORDER BY created_at, seq").map(Self.item)
    }

    private static func item(_ row: PostgresRow) throws -> WebhookOutboxItem {
        let c = PostgresRowReader(row, table: "webhook_outbox")
        return WebhookOutboxItem(
            id: try c.value("id"), webhookId: try c.value("webhook_id"), reviewId: try c.value("review_id"), state: try c.value("state"),
            body: try c.value("body"), attempts: try c.value("attempts"), createdAt: try c.date("created_at"))
    }

    // MARK: Webhooks

    public func insert(_ w: WebhookRecord) async throws {
        try await store.query(
            """
            INSERT INTO webhooks (id, agent_id, url, secret, created_by, created_at)
            VALUES (\(w.id), \(w.agentId), \(w.url), \(w.secret), \(w.createdBy), \(timestamp: w.createdAt))
            """)
    }

    public func delete(id: String) async throws -> Bool {
        !(try await store.query("DELETE FROM webhooks WHERE id = \(id) RETURNING id")).isEmpty
    }

    public func find(id: String) async throws -> WebhookRecord? {
        try await store.query("SELECT * FROM webhooks WHERE id = \(id)").first.map(Self.webhook)
    }

    public func list(agentId: String?) async throws -> [WebhookRecord] {
        try await store.query(
            "SELECT * FROM webhooks WHERE \(agentId)::text IS NULL OR agent_id = \(agentId) ORDER BY created_at, id"
        ).map(Self.webhook)
    }

    public func receivers(of agentId: String) async throws -> [WebhookRecord] {
        try await store.query("SELECT * FROM webhooks WHERE agent_id = \(agentId) OR agent_id IS NULL ORDER BY created_at, id")
            .map(Self.webhook)
    }

    // MARK: Delivery log

    public func log(_ d: WebhookDelivery) async throws {
        try await store.query(
            """
            INSERT INTO webhook_deliveries (id, webhook_id, review_id, state, attempt, status, error, at)
            VALUES (\(d.id), \(d.webhookId), \(d.reviewId), \(d.state), \(d.attempt), \(d.status), \(d.error), \(timestamp: d.at))
            """)
    }

    public func deliveries(webhookId: String, limit: Int) async throws -> [WebhookDelivery] {
        try await store.query(
            "SELECT * FROM webhook_deliveries WHERE webhook_id = \(webhookId) ORDER BY at DESC, seq DESC LIMIT \(max(limit, 0))"
        ).map { row in
            let c = PostgresRowReader(row, table: "webhook_deliveries")
            return WebhookDelivery(
                id: try c.value("id"), webhookId: try c.value("webhook_id"), reviewId: try c.value("review_id"), state: try c.value("state"),
                attempt: try c.value("attempt"), status: try c.value("status"), error: try c.value("error"), at: try c.date("at"))
        }
    }

    static func webhook(_ row: PostgresRow) throws -> WebhookRecord {
        let c = PostgresRowReader(row, table: "webhooks")
        return WebhookRecord(
            id: try c.value("id"), agentId: try c.value("agent_id"), url: try c.value("url"), secret: try c.value("secret"),
            createdBy: try c.value("created_by"), createdAt: try c.date("created_at"))
    }
}
