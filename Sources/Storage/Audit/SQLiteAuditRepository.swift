import AuditLog
import Foundation
import Logging
import SQLiteNIO

/// The audit log in the embedded database (`acgs.sqlite`, WAL, full synchronisation). Appends run
/// on a connection of their own, so that readers never see an entry before its transaction commits.
public final class SQLiteAuditRepository: AuditRepository {
    private let writer: SQLiteConnection
    private let reader: SQLiteConnection

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
                    entry TEXT NOT NULL
                )
                """,
                "CREATE INDEX audit_entries_type ON audit_entries (type, idx)",
                "CREATE INDEX audit_entries_actor ON audit_entries (actor, idx)",
                "CREATE INDEX audit_entries_time ON audit_entries (timestamp_ms)",
                // Complete subtrees only (level 0: leaf hashes); written once, never updated.
                "CREATE TABLE audit_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID",
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

    private init(writer: SQLiteConnection, reader: SQLiteConnection) {
        self.writer = writer
        self.reader = reader
    }

    /// Opens (creating if needed) the log in the database at `path`, with the decisions table its
    /// appends also write.
    public static func open(path: String, logger: Logger = Logger(label: "acgs.audit")) async throws -> SQLiteAuditRepository {
        let writer = try await SQLiteDatabase.open(path: path, logger: logger) { connection in
            _ = try await connection.query("PRAGMA wal_autocheckpoint=10000")
            try await SQLiteDatabase.migrate(connection, table: "schema_migrations", SQLiteDecisionRepository.migrations)
            try await SQLiteDatabase.migrate(connection, table: "audit_schema_migrations", migrations)
        }
        do {
            let reader = try await SQLiteDatabase.open(path: path, logger: logger) { _ in }
            return SQLiteAuditRepository(writer: writer, reader: reader)
        } catch {
            try? await writer.close()
            throw error
        }
    }

    public func close() async throws {
        try await writer.close()
        try await reader.close()
    }

    public func append(_ batch: AuditAppendBatch) async throws {
        guard !batch.entries.isEmpty else { return }
        _ = try await writer.query("BEGIN IMMEDIATE")
        do {
            // Explicit indices under a primary key: a second writer at the same index fails here.
            var binds: [SQLiteData] = []
            binds.reserveCapacity(batch.entries.count * 5)
            for e in batch.entries {
                binds += [.integer(e.index), .integer(Int(e.timestampMilliseconds)), .text(e.type.rawValue), .text(e.actor), .text(e.text)]
            }
            _ = try await writer.query(
                "INSERT INTO audit_entries (idx, timestamp_ms, type, actor, entry) VALUES " + Self.rows(batch.entries.count, "(?, ?, ?, ?, ?)"),
                binds)
            binds = []
            binds.reserveCapacity(batch.nodes.count * 3)
            for (id, hash) in batch.nodes { binds += [.integer(id.level), .integer(id.index), .blob(ByteBuffer(bytes: hash))] }
            _ = try await writer.query("INSERT INTO audit_nodes (level, idx, hash) VALUES " + Self.rows(batch.nodes.count, "(?, ?, ?)"), binds)
            try await SQLiteDecisionRepository.insert(batch.decisions, on: writer)
            _ = try await writer.query("COMMIT")
        } catch {
            _ = try? await writer.query("ROLLBACK")
            if let error = error as? SQLiteError, Self.isKeyConflict(error.reason) { throw AuditStoreError.indexTaken }
            throw error
        }
    }

    private static func isKeyConflict(_ reason: SQLiteError.Reason) -> Bool {
        switch reason {
        case .constraint, .constraintPrimaryKeyFailed, .constraintUniqueFailed, .constraintUniqueRowIDFailed: true
        default: false
        }
    }

    public func size() async throws -> Int {
        let rows = try await reader.query("SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM audit_entries")
        return rows.first?.column("n")?.integer ?? 0
    }

    public func nodes(_ ids: [SubtreeID]) async throws -> [SubtreeID: [UInt8]] {
        guard !ids.isEmpty else { return [:] }
        var result: [SubtreeID: [UInt8]] = [:]
        // A proof needs at most a few dozen subtrees; chunks keep each statement's bind count small.
        for chunk in stride(from: 0, to: ids.count, by: 200).map({ ids[$0..<min($0 + 200, ids.count)] }) {
            var binds: [SQLiteData] = []
            for id in chunk { binds += [.integer(id.level), .integer(id.index)] }
            let condition = Array(repeating: "(level = ? AND idx = ?)", count: chunk.count).joined(separator: " OR ")
            for row in try await reader.query("SELECT level, idx, hash FROM audit_nodes WHERE " + condition, binds) {
                guard let level = row.column("level")?.integer, let index = row.column("idx")?.integer,
                    let hash = row.column("hash")?.blob
                else { continue }
                result[SubtreeID(level: level, index: index)] = Array(buffer: hash)
            }
        }
        return result
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
        let rows = try await reader.query(
            "SELECT idx, timestamp_ms, type, actor, entry FROM audit_entries\(filter) ORDER BY idx LIMIT ?", binds)
        return rows.compactMap(Self.entry)
    }

    public func entry(at index: Int) async throws -> StoredAuditEntry? {
        let rows = try await reader.query("SELECT idx, timestamp_ms, type, actor, entry FROM audit_entries WHERE idx = ?", [.integer(index)])
        return rows.first.flatMap(Self.entry)
    }

    public func scan(after: Int, limit: Int) async throws -> [StoredAuditEntry] {
        let rows = try await reader.query(
            """
            SELECT e.idx, e.timestamp_ms, e.type, e.actor, e.entry, n.hash FROM audit_entries e
            LEFT JOIN audit_nodes n ON n.level = 0 AND n.idx = e.idx
            WHERE e.idx > ? ORDER BY e.idx LIMIT ?
            """, [.integer(after), .integer(limit)])
        return rows.compactMap { row in
            var entry = Self.entry(row)
            entry?.leafHash = row.column("hash")?.blob.map { Array(buffer: $0) }
            return entry
        }
    }

    public func appendHead(_ head: SignedTreeHead) async throws {
        _ = try await writer.query(
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
            // A head that cannot even be read back is kept visible to the verifier as an unsigned one.
            Self.head(row) ?? SignedTreeHead(treeSize: row.column("tree_size")?.integer ?? 0, rootHash: [], timestamp: "", constitutionalHash: "", keyId: "", signature: [])
        }
    }

    public func ping() async throws {
        _ = try await reader.query("SELECT 1")
    }

    private static func rows(_ count: Int, _ row: String) -> String {
        Array(repeating: row, count: count).joined(separator: ", ")
    }

    private static func entry(_ row: SQLiteRow) -> StoredAuditEntry? {
        guard let index = row.column("idx")?.integer, let ms = row.column("timestamp_ms")?.integer,
            let type = row.column("type")?.string.flatMap(AuditEntryType.init(rawValue:)), let actor = row.column("actor")?.string,
            let text = row.column("entry")?.string
        else { return nil }
        return StoredAuditEntry(index: index, timestampMilliseconds: Int64(ms), type: type, actor: actor, text: text)
    }

    private static func head(_ row: SQLiteRow) -> SignedTreeHead? {
        guard let size = row.column("tree_size")?.integer, let root = row.column("root_hash")?.string.flatMap(MerkleHash.bytes(hex:)),
            let timestamp = row.column("timestamp")?.string, let hash = row.column("constitutional_hash")?.string,
            let keyId = row.column("key_id")?.string, let signature = row.column("signature")?.string.flatMap({ Data(base64Encoded: $0) })
        else { return nil }
        return SignedTreeHead(treeSize: size, rootHash: root, timestamp: timestamp, constitutionalHash: hash, keyId: keyId, signature: Array(signature))
    }
}
