import Foundation
import Logging
import NIOPosix
import SQLiteNIO

/// Every write this process makes to a database file, on one connection with a thread of its own,
/// group-committed across stores: the statements that arrive while a transaction commits go into
/// the next one, so that one flush covers them all (a fast-lane review and its audit entry, say).
///
/// SQLite admits one writer at a time anyway. With a connection per store, a writer that found the
/// file locked slept in SQLite's busy handler (1, 2, 5 … up to 100 ms a try), which under load gave
/// requests tails of hundreds of milliseconds; each store's commit also emptied the other
/// connections' page caches. Reads stay on the stores' own connections.
public actor SQLiteFileWriter {
    public typealias Statement = (sql: String, binds: [SQLiteData])

    private struct Job {
        let statements: [Statement]
        let continuation: CheckedContinuation<[SQLiteRow], any Error>
    }

    let path: String
    private let connection: SQLiteConnection
    private let thread: NIOThreadPool
    private var pending: [Job] = []
    private var flushing = false
    /// Transactions committed, for tests: fewer than the jobs when they were grouped.
    private(set) var transactions = 0

    private init(path: String, connection: SQLiteConnection, thread: NIOThreadPool) {
        self.path = path
        self.connection = connection
        self.thread = thread
    }

    /// The writer of the file at `path`, opened by its first user and closed after its last `release()`.
    public static func acquire(path: String, logger: Logger) async throws -> SQLiteFileWriter {
        try await registry.acquire(path: URL(fileURLWithPath: path).standardizedFileURL.path, logger: logger)
    }

    public func release() async {
        await Self.registry.release(self)
    }

    /// Runs the statements in one transaction (shared with other jobs) and returns the rows of the
    /// last. All or nothing: if one fails, none of them stands, and other jobs are not affected.
    public func write(_ statements: [Statement]) async throws -> [SQLiteRow] {
        precondition(!statements.isEmpty, "a write needs a statement")
        return try await withCheckedThrowingContinuation { continuation in
            pending.append(Job(statements: statements, continuation: continuation))
            if !flushing {
                flushing = true
                // Above the request tasks it serves: behind them in the queue it would delay them all.
                Task(priority: .high) { await self.drain() }
            }
        }
    }

    public func write(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        try await write([(sql, binds)])
    }

    private func drain() async {
        while !pending.isEmpty {
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            if batch.count == 1 {
                await runAlone(batch[0])
                continue
            }
            do {
                for (job, rows) in zip(batch, try await transaction(batch)) { job.continuation.resume(returning: rows) }
            } catch {
                // One job failed (a conflict, say) and took the others' work with it: each runs again
                // alone, so that only the failing one fails.
                for job in batch { await runAlone(job) }
            }
        }
        flushing = false
    }

    private func runAlone(_ job: Job) async {
        do {
            job.continuation.resume(returning: try await run(alone: job))
        } catch {
            job.continuation.resume(throwing: error)
        }
    }

    private func run(alone job: Job) async throws -> [SQLiteRow] {
        guard job.statements.count > 1 else {
            // One statement is its own transaction: one trip to the database.
            let rows = try await connection.query(job.statements[0].sql, job.statements[0].binds)
            transactions += 1
            return rows
        }
        return try await transaction([job])[0]
    }

    private func transaction(_ jobs: [Job]) async throws -> [[SQLiteRow]] {
        _ = try await connection.query("BEGIN IMMEDIATE")
        do {
            var results: [[SQLiteRow]] = []
            results.reserveCapacity(jobs.count)
            for job in jobs {
                var rows: [SQLiteRow] = []
                for statement in job.statements { rows = try await connection.query(statement.sql, statement.binds) }
                results.append(rows)
            }
            _ = try await connection.query("COMMIT")
            transactions += 1
            return results
        } catch {
            _ = try? await connection.query("ROLLBACK")
            throw error
        }
    }

    private func close() async {
        try? await connection.close()
        try? await thread.shutdownGracefully()
    }

    /// The open writers, one per file, with how many stores use each.
    private static let registry = Registry()

    private actor Registry {
        private var writers: [String: (opening: Task<SQLiteFileWriter, any Error>, users: Int)] = [:]

        func acquire(path: String, logger: Logger) async throws -> SQLiteFileWriter {
            let opening: Task<SQLiteFileWriter, any Error>
            if let entry = writers[path] {
                opening = entry.opening
                writers[path]?.users += 1
            } else {
                // Stored before it is awaited: a second store opening meanwhile shares it.
                opening = Task {
                    let thread = NIOThreadPool(numberOfThreads: 1)
                    thread.start()
                    do {
                        let connection = try await SQLiteDatabase.open(path: path, logger: logger, threadPool: thread) { connection in
                            // Per connection, off by default: the cascade from agents to their keys depends on it.
                            _ = try await connection.query("PRAGMA foreign_keys=ON")
                        }
                        return SQLiteFileWriter(path: path, connection: connection, thread: thread)
                    } catch {
                        try? await thread.shutdownGracefully()
                        throw error
                    }
                }
                writers[path] = (opening, 1)
            }
            do {
                return try await opening.value
            } catch {
                // This user never got the writer: the next one tries to open it again.
                if let entry = writers[path], entry.opening == opening {
                    if entry.users <= 1 { writers[path] = nil } else { writers[path]?.users -= 1 }
                }
                throw error
            }
        }

        func release(_ writer: SQLiteFileWriter) async {
            guard let entry = writers[writer.path] else { return }
            if entry.users > 1 {
                writers[writer.path]?.users -= 1
                return
            }
            writers[writer.path] = nil
            await writer.close()
        }
    }
}

/// A store's connection: reads run on it, one at a time on a thread of its own; every other
/// statement goes to the file's writer.
final class SQLiteStoreConnection: Sendable {
    let connection: SQLiteConnection
    private let thread: NIOThreadPool
    let writer: SQLiteFileWriter

    init(connection: SQLiteConnection, thread: NIOThreadPool, writer: SQLiteFileWriter) {
        self.connection = connection
        self.thread = thread
        self.writer = writer
    }

    func query(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        if sql.hasPrefix("SELECT") { return try await connection.query(sql, binds) }
        return try await writer.write(sql, binds)
    }

    func close() async throws {
        try await connection.close()
        try await thread.shutdownGracefully()
        await writer.release()
    }
}
