import Foundation
import GovernanceCore
import Logging
import NIOPosix
import SQLiteNIO

/// Review requests in the embedded database: the request as a JSON document, with the columns the
/// queue and the deadline enforcement search by.
public final class SQLiteReviewRepository: ReviewRepository {
    let connection: SQLiteStoreConnection

    static let migrations: [SQLiteDatabase.Migration] = [
        (
            1,
            [
                """
                CREATE TABLE reviews (
                    id TEXT PRIMARY KEY,
                    state TEXT NOT NULL,
                    level TEXT NOT NULL,
                    deadline REAL NOT NULL,
                    assignee TEXT,
                    requester TEXT NOT NULL,
                    updated_at REAL NOT NULL,
                    version INTEGER NOT NULL,
                    document TEXT NOT NULL
                )
                """,
                "CREATE INDEX reviews_open ON reviews (state, deadline)",
                "CREATE INDEX reviews_requester ON reviews (requester, updated_at)",
            ]
        ),
        (
            2,
            [
                // The reviewers' open counts (read every second for assignment) from the index alone:
                // reading each open request's row took thousands of page reads a second under load.
                "DROP INDEX reviews_open",
                "CREATE INDEX reviews_open ON reviews (state, deadline, assignee)",
            ]
        ),
    ]

    private init(connection: SQLiteStoreConnection) {
        self.connection = connection
    }

    public static func open(path: String, logger: Logger = Logger(label: "acgs.reviews")) async throws -> SQLiteReviewRepository {
        let connection = try await SQLiteDatabase.openOnOwnThread(path: path, logger: logger) { connection in
            try await SQLiteDatabase.migrate(connection, table: "review_schema_migrations", migrations)
        }
        return SQLiteReviewRepository(connection: connection)
    }

    public func close() async throws {
        try await connection.close()
    }

    /// The fast lane opens thousands of requests a second: their inserts share the file writer's
    /// transactions, one commit for all that arrive together.
    public func insert(_ request: ReviewRequest) async throws {
        try await beginInsert(request).value()
    }

    /// Queued on the file writer at once, so that it can share a transaction with the audit entries
    /// appended meanwhile.
    public func beginInsert(_ request: ReviewRequest) -> PendingWrite {
        let pending = PendingWrite()
        connection.writer.submit([(Self.insertSQL, Self.columns(request))]) { result in pending.finish(result.map { _ in () }) }
        return pending
    }

    private static let insertSQL =
        "INSERT INTO reviews (id, state, level, deadline, assignee, requester, updated_at, version, document) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)"

    public func update(_ request: ReviewRequest, expectedVersion version: Int) async throws -> Int {
        var binds = Self.columns(request)
        binds.removeFirst()
        binds += [.text(request.id), .integer(version)]
        let rows = try await connection.query(
            """
            UPDATE reviews SET state = ?, level = ?, deadline = ?, assignee = ?, requester = ?, updated_at = ?, document = ?,
            version = version + 1 WHERE id = ? AND version = ? RETURNING version
            """, binds)
        guard let next = rows.first?.column("version")?.integer else {
            throw try await find(id: request.id) == nil ? ReviewStoreError.notFound(request.id) : ReviewStoreError.versionConflict(request.id)
        }
        return next
    }

    public func find(id: String) async throws -> StoredReview? {
        guard let row = try await connection.query("SELECT version, document FROM reviews WHERE id = ?", [.text(id)]).first else { return nil }
        return StoredReview(request: try Self.decode(row), version: row.column("version")?.integer ?? 0)
    }

    public func list(_ query: ReviewQuery) async throws -> [ReviewRequest] {
        var conditions: [String] = []
        var binds: [SQLiteData] = []
        if let states = query.states {
            conditions.append("state IN (" + Array(repeating: "?", count: states.count).joined(separator: ", ") + ")")
            binds += states.map { .text($0.rawValue) }
        }
        if let level = query.level {
            conditions.append("level = ?")
            binds.append(.text(level.rawValue))
        }
        if let assignee = query.assignee {
            conditions.append("assignee = ?")
            binds.append(.text(assignee))
        }
        if let requester = query.requester {
            conditions.append("requester = ?")
            binds.append(.text(requester))
        }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        // The queue's order needs the level's rank and the risk: sorted here, over a bounded read.
        let rows = try await connection.query(
            "SELECT document FROM reviews\(filter) ORDER BY deadline LIMIT ?", binds + [.integer(max(query.limit, 1) * 4)])
        return Array(try rows.map(Self.decode).sorted(by: ReviewOrder.before).prefix(query.limit))
    }

    public func due(at now: Date, limit: Int) async throws -> [String] {
        let rows = try await connection.query(
            "SELECT id FROM reviews WHERE state IN ('pending', 'in_review', 'escalated') AND deadline <= ? ORDER BY deadline LIMIT ?",
            [.float(now.timeIntervalSince1970), .integer(limit)])
        return rows.compactMap { $0.column("id")?.string }
    }

    public func openCount() async throws -> Int {
        try await connection.query("SELECT COUNT(*) AS n FROM reviews WHERE state IN ('pending', 'in_review', 'escalated')").first?.column("n")?.integer ?? 0
    }

    public func openCountsByAssignee() async throws -> [String: Int] {
        let rows = try await connection.query(
            "SELECT assignee, COUNT(*) AS n FROM reviews WHERE state IN ('pending', 'in_review', 'escalated') AND assignee IS NOT NULL GROUP BY assignee")
        var counts: [String: Int] = [:]
        for row in rows { if let a = row.column("assignee")?.string { counts[a] = row.column("n")?.integer ?? 0 } }
        return counts
    }

    public func ping() async throws {
        _ = try await connection.query("SELECT 1")
    }

    private static func columns(_ r: ReviewRequest) -> [SQLiteData] {
        [
            .text(r.id), .text(r.state.rawValue), .text(r.level.rawValue), .float(r.deadline.timeIntervalSince1970),
            r.assignee.map { .text($0) } ?? .null, .text(r.requester), .float(r.updatedAt.timeIntervalSince1970),
            .text(ReviewDocument.encode(r)),
        ]
    }

    private static func decode(_ row: any SQLiteResultRow) throws -> ReviewRequest {
        try ReviewDocument.decode(row.column("document")?.string ?? "")
    }
}
