import Foundation
import NIOCore
import NIOPosix
import SQLiteNIO
import Synchronization
import VaporCSQLite

/// Every write this process makes to a database file, on one connection with a thread of its own,
/// group-committed across stores: the statements that arrive while a transaction commits go into
/// the next one, so that one flush covers them all (a fast-lane review and its audit entry, say).
///
/// SQLite admits one writer at a time anyway. With a connection per store, a writer that found the
/// file locked slept in SQLite's busy handler (1, 2, 5 … up to 100 ms a try), which under load gave
/// requests tails of hundreds of milliseconds; each store's commit also emptied the other
/// connections' page caches. Reads stay on the stores' own connections.
///
/// The writer's thread runs a whole transaction in one go on SQLite's C interface (the same SQLite
/// that SQLiteNIO links, so that both see each other's file locks), with its statements prepared
/// once. Through SQLiteNIO, each statement was a trip to a thread pool and back: a transaction of a
/// batch took four to forty of them, each a hand-off between threads (docs/PERFORMANCE.md).
public final class SQLiteFileWriter: Sendable {
    public typealias Statement = (sql: String, binds: [SQLiteData])

    private struct Job {
        /// Called on the writer's thread each time the job runs (again alone, after its group
        /// failed): a job may refuse to run by throwing, because of an earlier job's outcome.
        let statements: @Sendable () throws -> [Statement]
        /// Called on the writer's thread with the outcome: resumes an awaiting caller, or finishes a
        /// pending write.
        let finish: @Sendable (Result<[SQLiteWrittenRow], any Error>) -> Void
    }

    private struct Queue {
        var jobs: [Job] = []
        var closing = false
    }

    let path: String
    /// Guards `queue`; the writer's thread waits on it for work.
    private let condition = NSCondition()
    nonisolated(unsafe) private var queue = Queue()
    private let committed = Atomic<Int>(0)
    private let stopped: Mutex<CheckedContinuation<Void, Never>?> = Mutex(nil)
    private let thread: Mutex<NIOThreadPool?> = Mutex(nil)

    /// Transactions committed, for tests: fewer than the jobs when they were grouped.
    var transactions: Int { committed.load(ordering: .relaxed) }

    private init(path: String) {
        self.path = path
    }

    /// The writer of the file at `path`, opened by its first user and closed after its last `release()`.
    public static func acquire(path: String) async throws -> SQLiteFileWriter {
        try await registry.acquire(path: URL(fileURLWithPath: path).standardizedFileURL.path)
    }

    public func release() async {
        await Self.registry.release(self)
    }

    /// Runs the statements in one transaction (shared with other jobs) and returns the rows of the
    /// last. All or nothing: if one fails, none of them stands, and other jobs are not affected.
    public func write(_ statements: [Statement]) async throws -> [SQLiteWrittenRow] {
        try await withCheckedThrowingContinuation { continuation in
            submit(statements) { continuation.resume(with: $0) }
        }
    }

    /// Queues the statements as `write` does, without awaiting them: `finish` gets the outcome, on
    /// the writer's thread (it must not block).
    public func submit(_ statements: [Statement], finish: @escaping @Sendable (Result<[SQLiteWrittenRow], any Error>) -> Void) {
        precondition(!statements.isEmpty, "a write needs a statement")
        submit(building: { statements }, finish: finish)
    }

    /// Queues a job whose statements are asked for on the writer's thread, just before they run,
    /// and again if the job runs alone after its group failed. Throwing from `statements` fails the
    /// job with that error, without affecting the others; `finish` is called as for `submit`, in
    /// the order the jobs were queued.
    public func submit(
        building statements: @escaping @Sendable () throws -> [Statement],
        finish: @escaping @Sendable (Result<[SQLiteWrittenRow], any Error>) -> Void
    ) {
        condition.lock()
        guard !queue.closing else {
            condition.unlock()
            finish(.failure(SQLiteWriteError(code: SQLITE_MISUSE, message: "the writer of \(path) is closed")))
            return
        }
        queue.jobs.append(Job(statements: statements, finish: finish))
        condition.unlock()
        // Signalled after unlocking: a writer woken while the lock is still held wakes only to sleep
        // on the lock, and is woken a second time (two thread switches per commit instead of one).
        condition.signal()
    }

    public func write(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteWrittenRow] {
        try await write([(sql, binds)])
    }

    // MARK: the writer's thread

    /// Opens the connection on a thread of its own (a pool of one: named like SQLiteNIO's threads),
    /// which then runs the jobs until the writer is closed.
    private func start() async throws {
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        do {
            try await withCheckedThrowingContinuation { (opened: CheckedContinuation<Void, any Error>) in
                thread.submit { [self] _ in
                    nameCurrentThread("acgs-sql-writer")
                    let connection: SQLiteWriterConnection
                    do {
                        connection = try SQLiteWriterConnection(path: path)
                    } catch {
                        return opened.resume(throwing: error)
                    }
                    opened.resume()
                    run(on: connection)
                    connection.close()
                    stopped.withLock { $0?.resume() }
                }
            }
        } catch {
            try? await thread.shutdownGracefully()
            throw error
        }
        self.thread.withLock { $0 = thread }
    }

    private func run(on connection: SQLiteWriterConnection) {
        while true {
            condition.lock()
            while queue.jobs.isEmpty && !queue.closing { condition.wait() }
            let batch = queue.jobs
            queue.jobs = []
            let closing = queue.closing
            condition.unlock()
            if batch.isEmpty && closing { return }
            commit(batch, on: connection)
        }
    }

    private func commit(_ batch: [Job], on connection: SQLiteWriterConnection) {
        if batch.count == 1 { return runAlone(batch[0], on: connection) }
        do {
            try connection.execute("BEGIN IMMEDIATE")
            var results: [[SQLiteWrittenRow]] = []
            results.reserveCapacity(batch.count)
            for job in batch { results.append(try connection.execute(try job.statements())) }
            try connection.execute("COMMIT")
            committed.add(1, ordering: .relaxed)
            for (job, rows) in zip(batch, results) { job.finish(.success(rows)) }
        } catch {
            // One job failed (a conflict, say) and took the others' work with it: each runs again
            // alone, so that only the failing one fails.
            connection.rollBack()
            for job in batch { runAlone(job, on: connection) }
        }
    }

    private func runAlone(_ job: Job, on connection: SQLiteWriterConnection) {
        // One statement is its own transaction.
        do {
            let statements = try job.statements()
            let single = statements.count == 1
            if !single { try connection.execute("BEGIN IMMEDIATE") }
            let rows = try connection.execute(statements)
            if !single { try connection.execute("COMMIT") }
            committed.add(1, ordering: .relaxed)
            job.finish(.success(rows))
        } catch {
            connection.rollBack()
            job.finish(.failure(error))
        }
    }

    /// Runs the jobs already submitted, then closes the connection and ends the thread.
    private func close() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            stopped.withLock { $0 = done }
            condition.lock()
            queue.closing = true
            condition.signal()
            condition.unlock()
        }
        if let thread = thread.withLock({ $0 }) { try? await thread.shutdownGracefully() }
    }

    /// The open writers, one per file, with how many stores use each.
    private static let registry = Registry()

    private actor Registry {
        private var writers: [String: (opening: Task<SQLiteFileWriter, any Error>, users: Int)] = [:]

        func acquire(path: String) async throws -> SQLiteFileWriter {
            let opening: Task<SQLiteFileWriter, any Error>
            if let entry = writers[path] {
                opening = entry.opening
                writers[path]?.users += 1
            } else {
                // Stored before it is awaited: a second store opening meanwhile shares it.
                opening = Task {
                    let writer = SQLiteFileWriter(path: path)
                    try await writer.start()
                    return writer
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

/// A row a write returned (`… RETURNING`), by column name.
public struct SQLiteWrittenRow: Sendable {
    let values: [String: SQLiteData]

    public func column(_ name: String) -> SQLiteData? { values[name] }
}

/// A statement of a write failed: SQLite's extended result code and its message.
public struct SQLiteWriteError: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String

    // Extended result codes (primary code | detail << 8), as sqlite3.h defines them.
    static let primaryKeyFailed: Int32 = 19 | (6 << 8)
    static let uniqueFailed: Int32 = 19 | (8 << 8)
    static let rowIDFailed: Int32 = 19 | (10 << 8)
    static let foreignKeyFailed: Int32 = 19 | (3 << 8)

    /// A row with the same key exists already.
    var isKeyConflict: Bool { [Self.primaryKeyFailed, Self.uniqueFailed, Self.rowIDFailed].contains(code) }

    public var description: String { "SQLite error \(code): \(message)" }
}

/// The writer's connection, used only on the writer's thread: statements prepared once and kept.
private final class SQLiteWriterConnection {
    private var handle: OpaquePointer?
    private var prepared: [String: OpaquePointer] = [:]
    /// Multi-row inserts differ by their number of rows: past this many, the cache starts again.
    private static let maxPrepared = 64
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
    nonisolated(unsafe) private static let emptyText: UnsafePointer<CChar> = {
        let byte = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
        byte.initialize(to: 0)
        return UnsafePointer(byte)
    }()

    init(path: String) throws {
        sqlite_nio_sqlite3_initialize()
        let flags = SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let opened = sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
        guard opened == SQLITE_OK else {
            let error = SQLiteWriteError(code: opened, message: "cannot open the database at \(path)")
            sqlite_nio_sqlite3_close(handle)
            throw error
        }
        do {
            // Set up as every connection to the file; foreign keys (per connection, off by default)
            // for the cascade from agents to their keys.
            for pragma in SQLiteDatabase.pragmas + ["PRAGMA foreign_keys=ON"] { try execute(pragma) }
        } catch {
            close()
            throw error
        }
    }

    /// Runs one statement to its end; the rows it returned.
    @discardableResult
    func execute(_ sql: String, _ binds: [SQLiteData] = []) throws -> [SQLiteWrittenRow] {
        let statement = try statement(for: sql)
        defer {
            sqlite_nio_sqlite3_reset(statement)
            sqlite_nio_sqlite3_clear_bindings(statement)
        }
        for (i, value) in binds.enumerated() {
            let position = Int32(i + 1)
            let bound: Int32
            switch value {
            case .integer(let v): bound = sqlite_nio_sqlite3_bind_int64(statement, position, Int64(v))
            case .float(let v): bound = sqlite_nio_sqlite3_bind_double(statement, position, v)
            case .text(var v):
                // Bound from the string's own bytes: passing the String itself copied it into a C string.
                bound = v.withUTF8 { bytes in
                    bytes.withMemoryRebound(to: CChar.self) { text in
                        // A null pointer would bind NULL, not the empty text.
                        sqlite_nio_sqlite3_bind_text64(statement, position, text.baseAddress ?? Self.emptyText, UInt64(text.count), Self.transient, UInt8(SQLITE_UTF8))
                    }
                }
            case .blob(let v):
                bound = v.withUnsafeReadableBytes { sqlite_nio_sqlite3_bind_blob64(statement, position, $0.baseAddress, UInt64($0.count), Self.transient) }
            case .null: bound = sqlite_nio_sqlite3_bind_null(statement, position)
            }
            guard bound == SQLITE_OK else { throw failure(bound) }
        }
        var rows: [SQLiteWrittenRow] = []
        while true {
            let stepped = sqlite_nio_sqlite3_step(statement)
            if stepped == SQLITE_DONE { return rows }
            guard stepped == SQLITE_ROW else { throw failure(stepped) }
            rows.append(row(statement))
        }
    }

    /// Runs the statements in order; the rows of the last.
    func execute(_ statements: [SQLiteFileWriter.Statement]) throws -> [SQLiteWrittenRow] {
        var rows: [SQLiteWrittenRow] = []
        for statement in statements { rows = try execute(statement.sql, statement.binds) }
        return rows
    }

    /// Ends the open transaction, if a failed statement left one (some errors end it themselves).
    func rollBack() {
        if sqlite_nio_sqlite3_get_autocommit(handle) == 0 { _ = try? execute("ROLLBACK") }
    }

    func close() {
        for statement in prepared.values { sqlite_nio_sqlite3_finalize(statement) }
        prepared = [:]
        sqlite_nio_sqlite3_close(handle)
        handle = nil
    }

    private func statement(for sql: String) throws -> OpaquePointer {
        if let statement = prepared[sql] { return statement }
        if prepared.count >= Self.maxPrepared {
            for statement in prepared.values { sqlite_nio_sqlite3_finalize(statement) }
            prepared = [:]
        }
        var statement: OpaquePointer?
        let result = sqlite_nio_sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard result == SQLITE_OK, let statement else { throw failure(result) }
        prepared[sql] = statement
        return statement
    }

    private func row(_ statement: OpaquePointer) -> SQLiteWrittenRow {
        var values: [String: SQLiteData] = [:]
        for i in 0..<sqlite_nio_sqlite3_column_count(statement) {
            let name = String(cString: sqlite_nio_sqlite3_column_name(statement, i))
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, i))
            switch sqlite_nio_sqlite3_column_type(statement, i) {
            case SQLITE_INTEGER: values[name] = .integer(Int(sqlite_nio_sqlite3_column_int64(statement, i)))
            case SQLITE_FLOAT: values[name] = .float(sqlite_nio_sqlite3_column_double(statement, i))
            case SQLITE_TEXT:
                let text = sqlite_nio_sqlite3_column_text(statement, i)
                values[name] = .text(text.map { String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self) } ?? "")
            case SQLITE_BLOB:
                let bytes = sqlite_nio_sqlite3_column_blob(statement, i)
                values[name] = .blob(bytes.map { ByteBuffer(bytes: UnsafeRawBufferPointer(start: $0, count: count)) } ?? ByteBuffer())
            default: values[name] = .null
            }
        }
        return SQLiteWrittenRow(values: values)
    }

    private func failure(_ code: Int32) -> SQLiteWriteError {
        SQLiteWriteError(code: code, message: String(cString: sqlite_nio_sqlite3_errmsg(handle)))
    }
}

/// A row of a store's result: read (SQLiteNIO's rows) or returned by a write.
protocol SQLiteResultRow: Sendable {
    func column(_ name: String) -> SQLiteData?
}

extension SQLiteRow: SQLiteResultRow {}
extension SQLiteWrittenRow: SQLiteResultRow {}

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

    func query(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [any SQLiteResultRow] {
        if sql.hasPrefix("SELECT") { return try await connection.query(sql, binds) }
        return try await writer.write(sql, binds)
    }

    func close() async throws {
        try await connection.close()
        try await thread.shutdownGracefully()
        await writer.release()
    }
}

/// Names the calling thread as profilers and `/proc/PID/task/*/comm` show it (15 characters at most
/// on Linux): NIO names every thread pool's threads alike ("TP-#0").
func nameCurrentThread(_ name: String) {
    guard let comm = FileHandle(forWritingAtPath: "/proc/thread-self/comm") else { return }
    try? comm.write(contentsOf: Data(name.utf8))
    try? comm.close()
}
