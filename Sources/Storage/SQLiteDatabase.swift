import Foundation
import Logging
import NIOPosix
import SQLiteNIO

/// What every embedded store shares: how a connection to `acgs.sqlite` is opened and how a
/// store's versioned migrations are applied.
enum SQLiteDatabase {
    typealias Migration = (version: Int, sql: [String])

    /// How every connection to a database file is set up, in this order (`SQLiteFileWriter`'s too).
    static let pragmas = [
        // Before anything is written (it only applies to a new file): every commit writes each page
        // it changed whole, twice (the log, then the checkpoint), and a decision's commit changes a
        // few rows of a table and of each of its indexes. 1 KiB pages instead of SQLite's 4 KiB cut
        // the bytes written per governed request by a third (docs/PERFORMANCE.md).
        "PRAGMA page_size=1024",
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        "PRAGMA busy_timeout=5000",
        // Checkpoints copy the log into the database and fsync it: run by a writer's commit, they
        // stall every request behind it (the review store's commits did, at SQLite's default of
        // 1,000 pages). `SQLiteCheckpointer` runs them beside the writers; this larger automatic
        // threshold is only a backstop, for a process without one.
        "PRAGMA wal_autocheckpoint=10000",
    ]

    /// Opens a connection in WAL mode with full synchronisation (a committed write survives a crash
    /// of the process or the machine), runs `setup` on it, and closes it again if `setup` fails.
    /// `threadPool` runs the connection's SQLite calls; by default the shared singleton pool.
    static func open(
        path: String, logger: Logger, threadPool: NIOThreadPool = .singleton, setup: (SQLiteConnection) async throws -> Void
    ) async throws -> SQLiteConnection {
        let connection = try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: threadPool, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
        do {
            for pragma in pragmas { _ = try await connection.query(pragma) }
            try await setup(connection)
        } catch {
            try? await connection.close()
            throw error
        }
        return connection
    }

    /// Opens a store's connection: its reads run one at a time, each to its end, on a thread of its
    /// own, and its writes go to the file's `SQLiteFileWriter`. SQLite serialises the calls made on a
    /// connection, not its statements: a read still being stepped on one thread while another thread
    /// wrote through the same connection failed at once with SQLITE_BUSY_SNAPSHOT (seen under load,
    /// on the review store).
    static func openOnOwnThread(
        path: String, logger: Logger, setup: (SQLiteConnection) async throws -> Void
    ) async throws -> SQLiteStoreConnection {
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        do {
            let connection = try await open(path: path, logger: logger, threadPool: thread, setup: setup)
            do {
                return SQLiteStoreConnection(connection: connection, thread: thread, writer: try await SQLiteFileWriter.acquire(path: path))
            } catch {
                try? await connection.close()
                throw error
            }
        } catch {
            try? await thread.shutdownGracefully()
            throw error
        }
    }

    /// Applies the migrations not yet recorded in `table`, each in its own transaction.
    static func migrate(_ db: SQLiteConnection, table: String, _ migrations: [Migration]) async throws {
        _ = try await db.query("CREATE TABLE IF NOT EXISTS \(table) (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
        for migration in migrations {
            // IMMEDIATE takes the write lock first, so two processes opening a fresh file at once
            // cannot both decide that a migration is missing and both apply it.
            _ = try await db.query("BEGIN IMMEDIATE")
            do {
                let applied = try await db.query("SELECT 1 FROM \(table) WHERE version = ?", [.integer(migration.version)])
                if applied.isEmpty {
                    for statement in migration.sql { _ = try await db.query(statement) }
                    _ = try await db.query(
                        "INSERT INTO \(table) (version, applied_at) VALUES (?, ?)",
                        [.integer(migration.version), .float(Date().timeIntervalSince1970)])
                }
                _ = try await db.query("COMMIT")
            } catch {
                _ = try? await db.query("ROLLBACK")
                throw error
            }
        }
    }
}
