import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle

/// The PostgreSQL store that every replica shares: the connection pool and the versioned schema.
///
/// The pool is a service of the application's lifecycle (`run()` until graceful shutdown). Every
/// query has a deadline: when PostgreSQL is down the pool would otherwise keep a request waiting for
/// a connection, and a governed request must fail closed quickly instead (503), not hang.
public final class PostgresStore: Service, Sendable {
    public let client: PostgresClient
    public let location: PostgresLocation
    /// For a connection outside the pool (one that holds a session lock).
    let connectionConfiguration: PostgresConnection.Configuration
    let logger: Logger
    /// How long one store operation may take, waiting for a connection included.
    public let timeout: Duration

    public init(
        url: String, maximumConnections: Int = 20, timeout: Duration = .seconds(2), logger: Logger = Logger(label: "acgs.postgres")
    ) throws(PostgresLocation.Error) {
        let location = try PostgresLocation(url: url)
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password, database: location.database,
            tls: .disable)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(2)
        self.location = location
        self.connectionConfiguration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password, database: location.database,
            tls: .disable)
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        self.timeout = timeout
    }

    public func run() async {
        await client.run()
    }

    /// Runs a store operation within the deadline (`timeout` unless told); past it,
    /// `PostgresStoreError.timedOut`.
    public func withDeadline<T: Sendable>(_ deadline: Duration? = nil, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let limit = deadline ?? timeout
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw PostgresStoreError.timedOut }
            return value
        }
    }

    /// Runs one statement within the deadline and collects its rows.
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await withDeadline {
            try await self.client.query(query, logger: self.logger).collect()
        }
    }

    /// Runs `body` on one pooled connection, within the deadline.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await withDeadline {
            try await self.client.withConnection { try await body($0) }
        }
    }

    /// Runs `body` in a transaction on one connection, within the deadline. (Not postgres-nio's
    /// `withTransaction`, which wraps every error thrown inside, so that callers could no longer
    /// tell a refused append, `AuditStoreError.indexTaken`, from a failed database.)
    public func transaction<T: Sendable>(
        deadline: Duration? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withDeadline(deadline) {
            try await self.client.withConnection { connection in
                try await connection.query("BEGIN", logger: self.logger)
                do {
                    let value = try await body(connection)
                    try await connection.query("COMMIT", logger: self.logger)
                    return value
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: self.logger)
                    throw error
                }
            }
        }
    }

    /// Succeeds when PostgreSQL answers now.
    public func ping() async throws {
        try await query("SELECT 1")
    }

    // MARK: migrations

    /// Applies every migration not yet recorded in `schema_migrations`, in version order, in one
    /// transaction. Replicas starting at once take turns on an advisory lock, so each migration is
    /// applied exactly once.
    public func migrate(_ migrations: [PostgresMigration] = PostgresMigration.all) async throws {
        let logger = self.logger
        // Schema changes are not on any request's path: they may take longer than a query.
        let applied = try await transaction(deadline: .seconds(60)) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresLocks.migrations))", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: logger)
            var done = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger).decode(Int.self) {
                done.insert(version)
            }
            var applied: [String] = []
            for migration in migrations.sorted(by: { $0.version < $1.version }) where !done.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger)
                applied.append("\(migration.version) \(migration.name)")
            }
            return applied
        }
        for name in applied { logger.notice("applied migration", metadata: ["migration": "\(name)"]) }
    }

    /// The versions recorded as applied, in order.
    public func appliedMigrations() async throws -> [Int] {
        let rows = try await query("SELECT version FROM schema_migrations ORDER BY version")
        return try rows.map { try $0.decode(Int.self) }
    }
}

/// One versioned step of the schema: its statements run in the migrating transaction.
public struct PostgresMigration: Sendable {
    public var version: Int
    public var name: String
    public var statements: [String]

    public init(version: Int, name: String, statements: [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }
}

/// Advisory lock keys: one per purpose, the same in every replica.
enum PostgresLocks {
    static let migrations: Int64 = 0x4143_4753_0001
    /// Held for an audit append: entries get their indices one writer at a time.
    static let auditAppend: Int64 = 0x4143_4753_0002
    /// Held by the replica that signs tree heads, for as long as it lives.
    static let treeHeadSigner: Int64 = 0x4143_4753_0003
    /// Held while a tree head is stored, so heads are stored in the order of their sizes.
    static let treeHeads: Int64 = 0x4143_4753_0004
}

public enum PostgresStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case timedOut
    case unreadableRow(String)

    public var description: String {
        switch self {
        case .timedOut: "PostgreSQL did not answer in time"
        case .unreadableRow(let what): "a stored row could not be read: \(what)"
        }
    }
}

/// Where the database is: `postgres://user[:password]@host[:port]/database`, as
/// `ACGS_DATABASE_URL` gives it. The password is never printed.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String

    public struct Error: Swift.Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    public init(url: String) throws(Error) {
        guard let components = URLComponents(string: url), let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw Error(description: "expected postgres://user:password@host:port/database")
        }
        guard let host = components.host, !host.isEmpty else { throw Error(description: "the URL names no host") }
        guard let user = components.user, !user.isEmpty else { throw Error(description: "the URL names no user") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw Error(description: "the URL names no database (…/NAME)") }
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode", item.value == "disable" else {
                throw Error(description: "unsupported URL parameter '\(item.name)' (only sslmode=disable: connect over a trusted network)")
            }
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database
    }

    public var description: String { "postgres://\(username)@\(host):\(port)/\(database)" }
}
