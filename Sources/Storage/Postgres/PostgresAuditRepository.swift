import AuditLog
import Foundation
import NIOCore
import PostgresNIO

/// The audit log in PostgreSQL, shared by every replica.
///
/// The rows are laid out as in SQLite (`SQLiteAuditRepository`): one row per entry with its text,
/// leaf hash and the hashes of the subtrees it completes. What differs is who writes: any replica
/// may append, so an append takes a transaction-scoped advisory lock, reads the stored size, and
/// writes its entries at the indices that follow; indices are primary keys besides, so that even a
/// writer that skipped the lock could not fork the log.
public final class PostgresAuditRepository: SharedAuditRepository {
    let store: PostgresStore

    static let migration = PostgresMigration(
        version: 2, name: "audit log",
        statements: [
            """
            CREATE TABLE audit_entries (
                idx BIGINT PRIMARY KEY,
                timestamp_ms BIGINT NOT NULL,
                type TEXT NOT NULL,
                actor TEXT NOT NULL,
                subject TEXT,
                outcome TEXT,
                entry TEXT NOT NULL,
                leaf_hash BYTEA NOT NULL,
                completed BYTEA NOT NULL
            )
            """,
            "CREATE INDEX audit_entries_type ON audit_entries (type, idx)",
            "CREATE INDEX audit_entries_actor ON audit_entries (actor, idx)",
            "CREATE INDEX audit_entries_time ON audit_entries (timestamp_ms)",
            "CREATE INDEX audit_entries_subject ON audit_entries (subject)",
            "CREATE INDEX audit_entries_outcome ON audit_entries (actor, outcome, timestamp_ms) WHERE outcome IS NOT NULL",
            """
            CREATE TABLE audit_heads (
                id BIGSERIAL PRIMARY KEY,
                tree_size BIGINT NOT NULL,
                root_hash TEXT NOT NULL,
                timestamp TEXT NOT NULL,
                constitutional_hash TEXT NOT NULL,
                key_id TEXT NOT NULL,
                signature TEXT NOT NULL
            )
            """,
        ])

    /// Appends in one round trip: takes the append lock, and inserts the rows (given as arrays) only
    /// if they start at the stored size, which it reads under the lock with a snapshot of its own.
    /// Returns the stored size it found: the writer's own view when the rows went in.
    static let appendFunction = PostgresMigration(
        version: 6, name: "audit append in one round trip",
        statements: [
            """
            CREATE FUNCTION acgs_audit_append(
                lock_key BIGINT, first_index BIGINT, idxs BIGINT[], times BIGINT[], types TEXT[], actors TEXT[], subjects TEXT[],
                outcomes TEXT[], entries TEXT[], leaves BYTEA[], completions BYTEA[]
            ) RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $$
            DECLARE
                stored BIGINT;
            BEGIN
                PERFORM pg_advisory_xact_lock(lock_key);
                SELECT COALESCE(MAX(idx) + 1, 0) INTO stored FROM audit_entries;
                IF stored <> first_index THEN
                    RETURN stored;
                END IF;
                INSERT INTO audit_entries (idx, timestamp_ms, type, actor, subject, outcome, entry, leaf_hash, completed)
                SELECT i, t, ty, a, NULLIF(s, ''), NULLIF(o, ''), e, l, c
                FROM unnest(idxs, times, types, actors, subjects, outcomes, entries, leaves, completions) AS u(i, t, ty, a, s, o, e, l, c);
                RETURN stored;
            END
            $$
            """
        ])

    public init(store: PostgresStore) {
        self.store = store
    }

    // MARK: appending

    public func appendExclusively<T: Sendable>(
        _ build: @escaping @Sendable (Int, @Sendable ([SubtreeID]) async throws -> [SubtreeID: [UInt8]]) async throws -> (AuditAppendBatch, T)
    ) async throws -> T {
        let logger = store.logger
        return try await store.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresLocks.auditAppend))", logger: logger)
            let size = try await Self.size(on: connection, logger: logger)
            let (batch, value) = try await build(size) { ids in try await Self.nodes(ids, on: connection, logger: logger) }
            // Under the lock already (it is re-entrant): the size check cannot fail here.
            guard try await Self.insert(batch, on: connection, logger: logger) else { throw AuditStoreError.indexTaken }
            return value
        }
    }

    /// Appends a batch built on the writer's view of the log, in one round trip; fails with
    /// `indexTaken` (and stores nothing) unless the batch starts at the stored size.
    public func append(_ batch: AuditAppendBatch) async throws {
        guard !batch.entries.isEmpty else { return }
        let logger = store.logger
        let inserted = try await store.withConnection { try await Self.insert(batch, on: $0, logger: logger) }
        guard inserted else { throw AuditStoreError.indexTaken }
    }

    /// Runs `acgs_audit_append`: true when the rows went in, false when the log had grown past the
    /// batch's first index.
    private static func insert(_ batch: AuditAppendBatch, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        guard let first = batch.entries.first?.index else { return true }
        let entries = batch.entries
        for e in entries where e.subject == "" || e.outcome == "" {
            // The function stores empty strings as NULL; no entry has one, but never store a different row.
            throw AuditStoreError.corrupt("entry \(e.index) has an empty subject or outcome")
        }
        let columns = try AuditRowLayout.columns(of: batch)
        let statement = AppendStatement(
            first: Int64(first), indices: entries.map { Int64($0.index) }, times: entries.map(\.timestampMilliseconds),
            types: entries.map(\.type.rawValue), actors: entries.map(\.actor), subjects: entries.map { $0.subject ?? "" },
            outcomes: entries.map { $0.outcome ?? "" }, texts: entries.map(\.text), leaves: columns.map { ByteBuffer(bytes: $0.leaf) },
            completions: columns.map { ByteBuffer(bytes: $0.completed) })
        var stored: Int64?
        for try await found in try await connection.execute(statement, logger: logger) { stored = found }
        return stored == Int64(first)
    }

    /// The append, prepared once per connection: it runs for every batch, and parsing it again each
    /// time was a sixth of its time in PostgreSQL.
    struct AppendStatement: PostgresPreparedStatement {
        static let sql = "SELECT acgs_audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        typealias Row = Int64

        var first: Int64
        var indices: [Int64]
        var times: [Int64]
        var types: [String]
        var actors: [String]
        var subjects: [String]
        var outcomes: [String]
        var texts: [String]
        var leaves: [ByteBuffer]
        var completions: [ByteBuffer]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 11)
            bindings.append(PostgresLocks.auditAppend)
            bindings.append(first)
            bindings.append(indices)
            bindings.append(times)
            bindings.append(types)
            bindings.append(actors)
            bindings.append(subjects)
            bindings.append(outcomes)
            bindings.append(texts)
            bindings.append(leaves)
            bindings.append(completions)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
    }

    // MARK: reading

    public func size() async throws -> Int {
        let logger = store.logger
        return try await store.withConnection { try await Self.size(on: $0, logger: logger) }
    }

    private static func size(on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await connection.query("SELECT COALESCE(MAX(idx) + 1, 0)::BIGINT FROM audit_entries", logger: logger).collect()
        return Int(try rows.first?.decode(Int64.self) ?? 0)
    }

    public func nodes(_ ids: [SubtreeID]) async throws -> [SubtreeID: [UInt8]] {
        let logger = store.logger
        return try await store.withConnection { try await Self.nodes(ids, on: $0, logger: logger) }
    }

    private static func nodes(_ ids: [SubtreeID], on connection: PostgresConnection, logger: Logger) async throws -> [SubtreeID: [UInt8]] {
        let (wanted, rowIndices) = AuditRowLayout.rows(for: ids)
        guard !wanted.isEmpty else { return [:] }
        var rows: [Int: (leaf: [UInt8], completed: [UInt8])] = [:]
        let query: PostgresQuery = "SELECT idx, leaf_hash, completed FROM audit_entries WHERE idx = ANY(\(rowIndices.map(Int64.init)))"
        for try await (index, leaf, completed) in try await connection.query(query, logger: logger).decode((Int64, ByteBuffer, ByteBuffer).self) {
            rows[Int(index)] = (Array(buffer: leaf), Array(buffer: completed))
        }
        return AuditRowLayout.hashes(wanted, in: rows)
    }

    public func entries(_ query: AuditEntryQuery) async throws -> [StoredAuditEntry] {
        // Absent filters are NULL parameters, so one statement (and one plan) serves every combination.
        let after = query.after.map(Int64.init)
        let since = query.since
        let until = query.until
        let type = query.type?.rawValue
        let actor = query.actor
        let sql: PostgresQuery = """
            SELECT \(unescaped: Self.columns) FROM audit_entries
            WHERE (\(after)::BIGINT IS NULL OR idx > \(after)) AND (\(type)::TEXT IS NULL OR type = \(type))
              AND (\(actor)::TEXT IS NULL OR actor = \(actor)) AND (\(since)::BIGINT IS NULL OR timestamp_ms >= \(since))
              AND (\(until)::BIGINT IS NULL OR timestamp_ms < \(until))
            ORDER BY idx LIMIT \(Int64(query.limit))
            """
        return try await store.query(sql).map(Self.entry)
    }

    public func entry(at index: Int) async throws -> StoredAuditEntry? {
        try await store.query("SELECT \(unescaped: Self.columns) FROM audit_entries WHERE idx = \(Int64(index))").first.map(Self.entry)
    }

    public func scan(after: Int, limit: Int) async throws -> [StoredAuditEntry] {
        let rows = try await store.query(
            "SELECT \(unescaped: Self.columns), leaf_hash FROM audit_entries WHERE idx > \(Int64(after)) ORDER BY idx LIMIT \(Int64(limit))")
        return try rows.map { row in
            let (index, ms, type, actor, subject, text, leaf) = try row.decode((Int64, Int64, String, String, String?, String, ByteBuffer).self)
            var entry = try Self.entry(index: index, ms: ms, type: type, actor: actor, subject: subject, text: text)
            entry.leafHash = Array(buffer: leaf)
            return entry
        }
    }

    // MARK: decisions

    public func decisionCounts(actor: String, since: Int64) async throws -> (denials: Int, escalations: Int) {
        let rows = try await store.query(
            """
            SELECT outcome, COUNT(*) FROM audit_entries
            WHERE actor = \(actor) AND outcome IS NOT NULL AND timestamp_ms >= \(since) GROUP BY outcome
            """)
        var counts = (denials: 0, escalations: 0)
        for row in rows {
            let (outcome, n) = try row.decode((String, Int64).self)
            switch outcome {
            case "deny": counts.denials = Int(n)
            case "escalate": counts.escalations = Int(n)
            default: break
            }
        }
        return counts
    }

    public func find(id: String) async throws -> DecisionRecord? {
        let rows = try await store.query(
            "SELECT \(unescaped: Self.columns) FROM audit_entries WHERE subject = \(id) AND type = 'decision' ORDER BY idx LIMIT 1")
        return try rows.first.map(Self.entry).flatMap(DecisionRecord.init(entry:))
    }

    public func count() async throws -> Int {
        Int(try await store.query("SELECT COUNT(*) FROM audit_entries WHERE type = 'decision'").first?.decode(Int64.self) ?? 0)
    }

    // MARK: heads

    /// Stores a head unless one over more entries is already stored: whichever replica signs,
    /// the stored heads never go back in size, which a verifier would rightly read as a rollback.
    public func appendHead(_ head: SignedTreeHead) async throws {
        let logger = store.logger
        try await store.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresLocks.treeHeads))", logger: logger)
            let larger = try await connection.query(
                "SELECT 1 FROM audit_heads WHERE tree_size > \(Int64(head.treeSize)) LIMIT 1", logger: logger
            ).collect()
            guard larger.isEmpty else { throw AuditStoreError.staleHead }
            try await connection.query(
                """
                INSERT INTO audit_heads (tree_size, root_hash, timestamp, constitutional_hash, key_id, signature)
                VALUES (\(Int64(head.treeSize)), \(MerkleHash.hex(head.rootHash)), \(head.timestamp), \(head.constitutionalHash),
                        \(head.keyId), \(Data(head.signature).base64EncodedString()))
                """, logger: logger)
        }
    }

    public func latestHead() async throws -> SignedTreeHead? {
        try await store.query("SELECT \(unescaped: Self.headColumns) FROM audit_heads ORDER BY id DESC LIMIT 1").first.map(Self.head)
    }

    public func heads() async throws -> [SignedTreeHead] {
        try await store.query("SELECT \(unescaped: Self.headColumns) FROM audit_heads ORDER BY id").map(Self.head)
    }

    public func ping() async throws {
        try await store.ping()
    }

    // MARK: rows

    private static let columns = "idx, timestamp_ms, type, actor, subject, entry"
    private static let headColumns = "tree_size, root_hash, timestamp, constitutional_hash, key_id, signature"

    private static func entry(_ row: PostgresRow) throws -> StoredAuditEntry {
        let (index, ms, type, actor, subject, text) = try row.decode((Int64, Int64, String, String, String?, String).self)
        return try entry(index: index, ms: ms, type: type, actor: actor, subject: subject, text: text)
    }

    private static func entry(index: Int64, ms: Int64, type: String, actor: String, subject: String?, text: String) throws -> StoredAuditEntry {
        guard let entryType = AuditEntryType(rawValue: type) else { throw PostgresStoreError.unreadableRow("audit entry \(index) has type '\(type)'") }
        return StoredAuditEntry(index: Int(index), timestampMilliseconds: ms, type: entryType, actor: actor, subject: subject, text: text)
    }

    private static func head(_ row: PostgresRow) throws -> SignedTreeHead {
        let (size, root, timestamp, hash, keyId, signature) = try row.decode((Int64, String, String, String, String, String).self)
        // A head whose hash or signature cannot be decoded stays visible to the verifier, as one that does not verify.
        return SignedTreeHead(
            treeSize: Int(size), rootHash: MerkleHash.bytes(hex: root) ?? [], timestamp: timestamp, constitutionalHash: hash, keyId: keyId,
            signature: Data(base64Encoded: signature).map(Array.init) ?? [])
    }
}
