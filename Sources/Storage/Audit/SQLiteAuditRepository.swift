import AuditLog
import Foundation
import GovernanceCore
import Logging
import NIOPosix
import SQLiteNIO

/// The audit log in the embedded database (`acgs.sqlite`, WAL, full synchronisation).
///
/// One row per entry holds everything appended with it: the entry's text, the columns it is found
/// by, its leaf hash, and the hashes of the subtrees it completes (`completed`: levels 1, 2, …
/// concatenated; entry i completes one subtree per trailing one bit of i). A group commit is then a
/// single INSERT, atomic on its own, with one flush. The subtree (level L, index j) is found in the
/// row of its last leaf, ((j + 1) << L) - 1.
///
/// Appends run on a connection of their own, so that readers never see an entry before it commits.
public final class SQLiteAuditRepository: PipelinedAuditRepository {
    /// The file's writer, shared with the other stores: an append shares their commits.
    private let writer: SQLiteFileWriter
    private let reader: SQLiteConnection
    public let path: String

    static let migrations: [SQLiteDatabase.Migration] = [
        (
            1,
            [
                """
                CREATE TABLE audit_entries (
                    idx INTEGER PRIMARY KEY,
                    timestamp_ms INTEGER NOT NULL,
                    type TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    subject TEXT,
                    outcome TEXT,
                    entry TEXT NOT NULL,
                    leaf_hash BLOB NOT NULL,
                    completed BLOB NOT NULL
                )
                """,
                "CREATE INDEX audit_entries_type ON audit_entries (type, idx)",
                "CREATE INDEX audit_entries_actor ON audit_entries (actor, idx)",
                "CREATE INDEX audit_entries_time ON audit_entries (timestamp_ms)",
                "CREATE INDEX audit_entries_subject ON audit_entries (subject)",
                // Only denials and escalations: allows, the bulk of the log, cost this index nothing.
                "CREATE INDEX audit_entries_outcome ON audit_entries (actor, outcome, timestamp_ms) WHERE outcome IS NOT NULL",
                """
                CREATE TABLE audit_heads (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    tree_size INTEGER NOT NULL,
                    root_hash TEXT NOT NULL,
                    timestamp TEXT NOT NULL,
                    constitutional_hash TEXT NOT NULL,
                    key_id TEXT NOT NULL,
                    signature TEXT NOT NULL
                )
                """,
            ]
        )
    ]

    /// A batch is inserted in chunks of 256, 128, … 1 rows (its size in binary), so that the writer
    /// prepares nine statements once, instead of one per batch size that it then evicts under load.
    /// Nine binds per row, well under SQLite's limit of 32,766 variables.
    static let insertStatements: [(rows: Int, sql: String)] = (0...8).reversed().map { power in
        let rows = 1 << power
        let values = Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?)", count: rows).joined(separator: ", ")
        return (rows, "INSERT INTO audit_entries (idx, timestamp_ms, type, actor, subject, outcome, entry, leaf_hash, completed) VALUES " + values)
    }

    /// The statements a batch of `count` rows is inserted with, largest first.
    static func chunks(of count: Int) -> [(rows: Int, sql: String)] {
        var chunks: [(rows: Int, sql: String)] = []
        var left = count
        for statement in insertStatements {
            while left >= statement.rows {
                chunks.append(statement)
                left -= statement.rows
            }
        }
        return chunks
    }

    private init(writer: SQLiteFileWriter, reader: SQLiteConnection, path: String) {
        self.writer = writer
        self.reader = reader
        self.path = path
    }

    /// Opens (creating if needed) the log in the database at `path`.
    public static func open(path: String, logger: Logger = Logger(label: "acgs.audit")) async throws -> SQLiteAuditRepository {
        let reader = try await SQLiteDatabase.open(path: path, logger: logger) { connection in
            try await SQLiteDatabase.migrate(connection, table: "audit_schema_migrations", migrations)
        }
        do {
            return SQLiteAuditRepository(writer: try await SQLiteFileWriter.acquire(path: path), reader: reader, path: path)
        } catch {
            try? await reader.close()
            throw error
        }
    }

    public func close() async throws {
        try await reader.close()
        await writer.release()
    }

    public func append(_ batch: AuditAppendBatch) async throws {
        guard !batch.entries.isEmpty else { return }
        do {
            // One transaction, whatever the number of statements.
            _ = try await writer.write(try Self.statements(for: batch))
        } catch {
            throw Self.appendError(error)
        }
    }

    /// Explicit indices under a primary key: a second writer at the same index fails here.
    private static func appendError(_ error: any Error) -> any Error {
        if let error = error as? SQLiteWriteError, error.isKeyConflict { return AuditStoreError.indexTaken }
        return error
    }

    public func beginAppend(_ batch: AuditAppendBatch, generation: Int, chain: AuditAppendChain) -> PendingWrite {
        let pending = PendingWrite()
        guard !batch.entries.isEmpty else {
            pending.finish(.success(()))
            return pending
        }
        writer.submit(
            building: {
                guard !chain.refuses(generation) else { throw AuditStoreError.earlierAppendFailed }
                return try Self.statements(for: batch)
            },
            finish: { result in
                // Called on the writer's thread in queue order: the batches queued after this one
                // are refused before they run.
                if case .failure = result { chain.fail(generation) }
                pending.finish(result.map { _ in () }.mapError(Self.appendError))
            })
        return pending
    }

    /// The inserts that store `batch`, in chunks of prepared shapes.
    static func statements(for batch: AuditAppendBatch) throws -> [SQLiteFileWriter.Statement] {
        let columns = try AuditRowLayout.columns(of: batch)
        var statements: [SQLiteFileWriter.Statement] = []
        var start = 0
        for (rows, sql) in chunks(of: batch.entries.count) {
            let chunk = batch.entries[start..<(start + rows)]
            defer { start += rows }
            var binds: [SQLiteData] = []
            binds.reserveCapacity(chunk.count * 9)
            for (offset, e) in zip(start..., chunk) {
                let (leaf, completed) = columns[offset]
                binds += [
                    .integer(e.index), .integer(Int(e.timestampMilliseconds)), .text(e.type.rawValue), .text(e.actor),
                    e.subject.map { .text($0) } ?? .null, e.outcome.map { .text($0) } ?? .null, .text(e.text), .blob(ByteBuffer(bytes: leaf)),
                    .blob(ByteBuffer(bytes: completed)),
                ]
            }
            statements.append((sql, binds))
        }
        return statements
    }

    public func size() async throws -> Int {
        let rows = try await reader.query("SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM audit_entries")
        return rows.first?.column("n")?.integer ?? 0
    }

    public func nodes(_ ids: [SubtreeID]) async throws -> [SubtreeID: [UInt8]] {
        let (wanted, rowIndices) = AuditRowLayout.rows(for: ids)
        guard !wanted.isEmpty else { return [:] }
        var rows: [Int: (leaf: [UInt8], completed: [UInt8])] = [:]
        // A proof needs at most a few dozen rows; chunks keep each statement's bind count small.
        for start in stride(from: 0, to: rowIndices.count, by: 500) {
            let chunk = rowIndices[start..<min(start + 500, rowIndices.count)]
            let sql = "SELECT idx, leaf_hash, completed FROM audit_entries WHERE idx IN ("
                + Array(repeating: "?", count: chunk.count).joined(separator: ", ") + ")"
            for row in try await reader.query(sql, chunk.map { .integer($0) }) {
                guard let index = row.column("idx")?.integer, let leaf = row.column("leaf_hash")?.blob else { continue }
                rows[index] = (Array(buffer: leaf), row.column("completed")?.blob.map { Array(buffer: $0) } ?? [])
            }
        }
        return AuditRowLayout.hashes(wanted, in: rows)
    }

    public func entries(_ query: AuditEntryQuery) async throws -> [StoredAuditEntry] {
        var conditions: [String] = []
        var binds: [SQLiteData] = []
        if let after = query.after {
            conditions.append("idx > ?")
            binds.append(.integer(after))
        }
        if let type = query.type {
            conditions.append("type = ?")
            binds.append(.text(type.rawValue))
        }
        if let actor = query.actor {
            conditions.append("actor = ?")
            binds.append(.text(actor))
        }
        if let since = query.since {
            conditions.append("timestamp_ms >= ?")
            binds.append(.integer(Int(since)))
        }
        if let until = query.until {
            conditions.append("timestamp_ms < ?")
            binds.append(.integer(Int(until)))
        }
        binds.append(.integer(query.limit))
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let rows = try await reader.query("SELECT \(Self.columns) FROM audit_entries\(filter) ORDER BY idx LIMIT ?", binds)
        return rows.compactMap(Self.entry)
    }

    public func entry(at index: Int) async throws -> StoredAuditEntry? {
        try await reader.query("SELECT \(Self.columns) FROM audit_entries WHERE idx = ?", [.integer(index)]).first.flatMap(Self.entry)
    }

    public func scan(after: Int, limit: Int) async throws -> [StoredAuditEntry] {
        let rows = try await reader.query(
            "SELECT \(Self.columns), leaf_hash FROM audit_entries WHERE idx > ? ORDER BY idx LIMIT ?", [.integer(after), .integer(limit)])
        return rows.compactMap { row in
            var entry = Self.entry(row)
            entry?.leafHash = row.column("leaf_hash")?.blob.map { Array(buffer: $0) }
            return entry
        }
    }

    // MARK: decisions

    public func decisionCounts(actor: String, since: Int64) async throws -> (denials: Int, escalations: Int) {
        let rows = try await reader.query(
            "SELECT outcome, COUNT(*) AS n FROM audit_entries WHERE actor = ? AND outcome IS NOT NULL AND timestamp_ms >= ? GROUP BY outcome",
            [.text(actor), .integer(Int(since))])
        var counts = (denials: 0, escalations: 0)
        for row in rows {
            switch row.column("outcome")?.string {
            case "deny": counts.denials = row.column("n")?.integer ?? 0
            case "escalate": counts.escalations = row.column("n")?.integer ?? 0
            default: break
            }
        }
        return counts
    }

    public func find(id: String) async throws -> DecisionRecord? {
        let rows = try await reader.query(
            "SELECT \(Self.columns) FROM audit_entries WHERE subject = ? AND type = 'decision' ORDER BY idx LIMIT 1", [.text(id)])
        return rows.first.flatMap(Self.entry).flatMap(DecisionRecord.init(entry:))
    }

    public func count() async throws -> Int {
        try await reader.query("SELECT COUNT(*) AS n FROM audit_entries WHERE type = 'decision'").first?.column("n")?.integer ?? 0
    }

    // MARK: heads

    public func appendHead(_ head: SignedTreeHead) async throws {
        _ = try await writer.write(
            "INSERT INTO audit_heads (tree_size, root_hash, timestamp, constitutional_hash, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)",
            [
                .integer(head.treeSize), .text(MerkleHash.hex(head.rootHash)), .text(head.timestamp), .text(head.constitutionalHash),
                .text(head.keyId), .text(Data(head.signature).base64EncodedString()),
            ])
    }

    public func latestHead() async throws -> SignedTreeHead? {
        try await reader.query("SELECT * FROM audit_heads ORDER BY id DESC LIMIT 1").first.flatMap(Self.head)
    }

    public func heads() async throws -> [SignedTreeHead] {
        try await reader.query("SELECT * FROM audit_heads ORDER BY id").map { row in
            // A head that cannot even be read back stays visible to the verifier, as one that does not verify.
            Self.head(row)
                ?? SignedTreeHead(
                    treeSize: row.column("tree_size")?.integer ?? 0, rootHash: [], timestamp: "", constitutionalHash: "", keyId: "", signature: [])
        }
    }

    public func ping() async throws {
        _ = try await reader.query("SELECT 1")
    }

    private static let columns = "idx, timestamp_ms, type, actor, subject, entry"

    private static func entry(_ row: SQLiteRow) -> StoredAuditEntry? {
        guard let index = row.column("idx")?.integer, let ms = row.column("timestamp_ms")?.integer,
            let type = row.column("type")?.string.flatMap(AuditEntryType.init(rawValue:)), let actor = row.column("actor")?.string,
            let text = row.column("entry")?.string
        else { return nil }
        return StoredAuditEntry(
            index: index, timestampMilliseconds: Int64(ms), type: type, actor: actor, subject: row.column("subject")?.string, text: text)
    }

    private static func head(_ row: SQLiteRow) -> SignedTreeHead? {
        guard let size = row.column("tree_size")?.integer, let root = row.column("root_hash")?.string.flatMap(MerkleHash.bytes(hex:)),
            let timestamp = row.column("timestamp")?.string, let hash = row.column("constitutional_hash")?.string,
            let keyId = row.column("key_id")?.string, let signature = row.column("signature")?.string.flatMap({ Data(base64Encoded: $0) })
        else { return nil }
        return SignedTreeHead(treeSize: size, rootHash: root, timestamp: timestamp, constitutionalHash: hash, keyId: keyId, signature: Array(signature))
    }
}
