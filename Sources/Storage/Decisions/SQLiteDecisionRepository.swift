import Foundation
import GovernanceCore
import Logging
import NIOPosix
import SQLiteNIO
import ServiceLifecycle

/// The embedded store: one SQLite database in the data directory, in WAL mode with full
/// synchronisation, so that a committed decision survives a crash of the process or the machine.
public final class SQLiteDecisionRepository: DecisionRepository {
    let connection: SQLiteConnection
    let path: String

    /// Versioned migrations, applied in order and recorded in `schema_migrations`.
    static let migrations: [(version: Int, sql: [String])] = [
        (
            1,
            [
                """
                CREATE TABLE decisions (
                    id TEXT PRIMARY KEY,
                    created_at REAL NOT NULL,
                    constitution_hash TEXT NOT NULL,
                    constitution_version TEXT NOT NULL,
                    outcome TEXT NOT NULL,
                    score REAL NOT NULL,
                    input_digest TEXT NOT NULL,
                    masked_input TEXT NOT NULL,
                    violations TEXT NOT NULL,
                    agent_id TEXT
                )
                """,
                "CREATE INDEX decisions_created_at ON decisions (created_at)",
                "CREATE INDEX decisions_agent ON decisions (agent_id, created_at)",
            ]
        ),
        (2, ["ALTER TABLE decisions ADD COLUMN audit_index INTEGER"]),
    ]

    private init(connection: SQLiteConnection, path: String) {
        self.connection = connection
        self.path = path
    }

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    public static func open(path: String, logger: Logger = Logger(label: "acgs.storage")) async throws -> SQLiteDecisionRepository {
        let connection = try await SQLiteDatabase.open(path: path, logger: logger) { connection in
            // Checkpoints copy the log into the database and fsync it: on the writer they stall every
            // decision waiting in the group commit. `SQLiteCheckpointer` runs them beside the writer;
            // this larger automatic threshold is only a backstop for processes that do not run it.
            _ = try await connection.query("PRAGMA wal_autocheckpoint=10000")
            try await SQLiteDatabase.migrate(connection, table: "schema_migrations", migrations)
        }
        return SQLiteDecisionRepository(connection: connection, path: path)
    }

    public func close() async throws {
        try await connection.close()
    }

    public func append(_ records: [DecisionRecord]) async throws {
        try await Self.insert(records, on: connection)
    }

    /// One multi-row INSERT: a single thread-pool hop for a batch. The audit log calls it inside its
    /// own transaction, so that a decision and its audit entry are stored together or not at all.
    static func insert(_ records: [DecisionRecord], on connection: SQLiteConnection) async throws {
        guard !records.isEmpty else { return }
        let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        let sql = "INSERT INTO decisions (id, created_at, constitution_hash, constitution_version, outcome, score, input_digest, masked_input, violations, agent_id, audit_index) VALUES "
            + Array(repeating: row, count: records.count).joined(separator: ", ")
        var binds: [SQLiteData] = []
        binds.reserveCapacity(records.count * 11)
        for r in records {
            binds += [
                .text(r.id), .float(r.createdAt.timeIntervalSince1970), .text(r.constitutionHash),
                .text(r.constitutionVersion), .text(r.outcome.rawValue), .float(r.score), .text(r.inputDigest),
                .text(r.maskedInput), .text(r.violations), r.agentId.map { .text($0) } ?? .null,
                r.auditIndex.map { .integer($0) } ?? .null,
            ]
        }
        _ = try await connection.query(sql, binds)
    }

    public func find(id: String) async throws -> DecisionRecord? {
        let rows = try await connection.query("SELECT * FROM decisions WHERE id = ?", [.text(id)])
        return rows.first.flatMap(Self.record)
    }

    public func count() async throws -> Int {
        let rows = try await connection.query("SELECT COUNT(*) AS n FROM decisions")
        return rows.first?.column("n")?.integer ?? 0
    }

    public func ping() async throws {
        _ = try await connection.query("SELECT 1")
    }

    static func record(_ row: SQLiteRow) -> DecisionRecord? {
        guard let id = row.column("id")?.string,
            let created = row.column("created_at")?.double,
            let hash = row.column("constitution_hash")?.string,
            let version = row.column("constitution_version")?.string,
            let outcome = row.column("outcome")?.string.flatMap(Outcome.init(rawValue:)),
            let score = row.column("score")?.double,
            let digest = row.column("input_digest")?.string,
            let masked = row.column("masked_input")?.string,
            let violations = row.column("violations")?.string
        else { return nil }
        return DecisionRecord(
            id: id, createdAt: Date(timeIntervalSince1970: created), constitutionHash: hash, constitutionVersion: version,
            outcome: outcome, score: score, inputDigest: digest, maskedInput: masked, violations: violations,
            agentId: row.column("agent_id")?.string, auditIndex: row.column("audit_index")?.integer)
    }
}

/// Runs WAL checkpoints on a connection of its own, once a second, so that the writer never
/// pays for them. PASSIVE checkpoints never block the writer.
public struct SQLiteCheckpointer: Service {
    let path: String
    let interval: Duration
    let logger: Logger

    public init(repository: SQLiteDecisionRepository, interval: Duration = .seconds(1), logger: Logger) {
        self.path = repository.path
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        _ = try await connection.query("PRAGMA busy_timeout=1000")
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                break
            }
            do {
                _ = try await connection.query("PRAGMA wal_checkpoint(PASSIVE)")
            } catch {
                logger.warning("WAL checkpoint failed; will retry", metadata: ["error.type": "\(type(of: error))"])
            }
        }
        // Closed outside this (possibly cancelled) task: a cancelled task cannot reach the thread pool.
        await Task { try? await connection.close() }.value
    }
}
