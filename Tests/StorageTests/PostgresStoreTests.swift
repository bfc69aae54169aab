import Foundation
import PostgresNIO
import TestServers
import Testing

@testable import Storage

/// A migrated PostgreSQL database of its own, with its pool running, for the duration of `body`.
func withPostgres<T: Sendable>(
    migrations: [PostgresMigration] = PostgresMigration.all, _ body: @Sendable (PostgresStore) async throws -> T
) async throws -> T {
    let url = try await freshPostgresDatabase()
    let database = try PostgresStore(url: url, maximumConnections: 4)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await database.run() }
        defer { group.cancelAll() }
        try await database.migrate(migrations)
        return try await body(database)
    }
}

/// The URL of a new, empty database. Creating it waits for `psql` (and the first call for the
/// cluster to start): on a thread of its own, not on one of the few threads that tasks share, where
/// it would stall the timers of every test running meanwhile.
func freshPostgresDatabase() async throws -> String {
    try await onOwnThread { try PostgresServer.shared().freshDatabase() }
}

/// A PostgreSQL store with its pool running until `stop()`, for tests that outlive one closure.
final class RunningPostgres: Sendable {
    let store: PostgresStore
    let url: String
    private let runner: Task<Void, Never>

    private init(store: PostgresStore, url: String) {
        self.store = store
        self.url = url
        self.runner = Task { await store.run() }
    }

    /// A migrated database of its own.
    static func fresh() async throws -> RunningPostgres {
        let running = try await connect(to: try await freshPostgresDatabase())
        try await running.store.migrate()
        return running
    }

    /// Another pool on an existing database, as a second replica has.
    static func connect(to url: String) async throws -> RunningPostgres {
        RunningPostgres(store: try PostgresStore(url: url, maximumConnections: 4), url: url)
    }

    func stop() { runner.cancel() }
}

@Suite("PostgreSQL store")
struct PostgresStoreTests {
    @Test func urlsAreParsedAndBadOnesNamed() throws {
        let location = try PostgresLocation(url: "postgres://acgs:s%40cret@db.internal:5439/acgs")
        #expect(location.host == "db.internal")
        #expect(location.port == 5439)
        #expect(location.username == "acgs")
        #expect(location.password == "s@cret")
        #expect(location.database == "acgs")
        #expect(!location.description.contains("cret"))
        #expect(try PostgresLocation(url: "postgresql://u@h/d").port == 5432)
        for bad in ["mysql://u@h/d", "postgres://h/d", "postgres://u@h", "postgres://u@h/d?sslmode=require", "not a url"] {
            #expect(throws: PostgresLocation.Error.self, "\(bad)") { try PostgresLocation(url: bad) }
        }
    }

    @Test func migrationsApplyOnceInOrderEvenFromReplicasStartingTogether() async throws {
        let steps = [
            PostgresMigration(version: 2, name: "second", statements: ["ALTER TABLE things ADD COLUMN size INTEGER NOT NULL DEFAULT 0"]),
            PostgresMigration(version: 1, name: "first", statements: ["CREATE TABLE things (id TEXT PRIMARY KEY)"]),
        ]
        try await withPostgres(migrations: []) { database in
            let url = database.location.description
            // Three replicas start at once on the same database.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        let replica = try PostgresStore(url: url, maximumConnections: 2)
                        try await withThrowingTaskGroup(of: Void.self) { inner in
                            inner.addTask { await replica.run() }
                            defer { inner.cancelAll() }
                            try await replica.migrate(steps)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await database.appliedMigrations() == [1, 2])
            try await database.query("INSERT INTO things (id, size) VALUES ('a', 3)")
        }
    }

    @Test func aStoppedServerIsATimeoutNotAHang() async throws {
        // A database on a port where nothing listens: every call fails within the deadline.
        let database = try PostgresStore(url: "postgres://acgs@127.0.0.1:\(try FreePort.next())/none", timeout: .milliseconds(300))
        await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.run() }
            defer { group.cancelAll() }
            // Without the deadline the pool would keep the call waiting for a connection for ever. The
            // error says the deadline ended it; its lateness is not checked, because the whole suite
            // shares two cores with this timer (CI once saw it fire 36 s late).
            await #expect(throws: PostgresStoreError.timedOut) { try await database.ping() }
        }
    }
}
