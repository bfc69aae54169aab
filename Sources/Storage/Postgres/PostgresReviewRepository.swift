import Foundation
import GovernanceCore
import PostgresNIO

/// Review requests in PostgreSQL, shared by every replica: the request as the same canonical JSON
/// document SQLite keeps, with the columns the queue and the deadline enforcement search by.
///
/// The document is TEXT, not jsonb: jsonb would refuse a `\u0000` an agent may send in its context,
/// and the stores never query inside it. Updates are optimistic in one statement: of two replicas
/// naming the same version, the second waits on the row lock and then finds the version changed.
public final class PostgresReviewRepository: ReviewRepository {
    let store: PostgresStore
    /// Concurrent inserts (the fast lane) share one statement and one commit; each gets its own outcome.
    private let inserts: GroupCommitter<ReviewRequest, Result<Void, any Error>>

    public init(store: PostgresStore) {
        self.store = store
        self.inserts = GroupCommitter { requests in try await Self.insert(requests, into: store) }
    }

    static let migration = PostgresMigration(
        version: 3, name: "reviews",
        statements: [
            """
            CREATE TABLE reviews (
                id TEXT COLLATE "C" NOT NULL CONSTRAINT reviews_pkey PRIMARY KEY,
                state TEXT NOT NULL,
                level TEXT NOT NULL,
                level_rank INTEGER NOT NULL,
                risk DOUBLE PRECISION NOT NULL,
                deadline TIMESTAMPTZ NOT NULL,
                assignee TEXT,
                requester TEXT NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL,
                version BIGINT NOT NULL,
                document TEXT NOT NULL
            )
            """,
            "CREATE INDEX reviews_open ON reviews (state, deadline)",
            "CREATE INDEX reviews_requester ON reviews (requester, updated_at)",
        ])

    /// The undecided states, bound into the queries that tell open requests from decided ones.
    static let openStates = ReviewState.allCases.filter { !$0.isFinal }.map(\.rawValue)

    public func insert(_ request: ReviewRequest) async throws {
        try await inserts.submit(request).get()
    }

    /// The batch in one INSERT; if an id is taken, each request again alone, so that only the one
    /// that conflicts fails. Any other error (the store is down) fails the batch.
    private static func insert(_ requests: [ReviewRequest], into store: PostgresStore) async throws -> [Result<Void, any Error>] {
        do {
            try await insertAtomically(requests, into: store)
            return requests.map { _ in .success(()) }
        } catch ReviewStoreError.versionConflict where requests.count > 1 {
            var outcomes: [Result<Void, any Error>] = []
            for request in requests {
                do {
                    try await insertAtomically([request], into: store)
                    outcomes.append(.success(()))
                } catch {
                    outcomes.append(.failure(error))
                }
            }
            return outcomes
        }
    }

    /// One INSERT of the whole batch, atomic on its own: all of it or none.
    private static func insertAtomically(_ requests: [ReviewRequest], into store: PostgresStore) async throws {
        let statement = InsertStatement(requests: requests, documents: requests.map(ReviewDocument.encode))
        let logger = store.logger
        do {
            _ = try await store.withConnection { try await $0.execute(statement, logger: logger) }
        } catch let error where PostgresConstraintViolation(error)?.kind == .unique {
            // An id is taken: as the in-memory store reports it.
            throw ReviewStoreError.versionConflict(requests.count == 1 ? requests[0].id : "one of \(requests.count) requests")
        }
    }

    /// The insert of a batch, prepared once per connection (the fast lane runs it for every request).
    struct InsertStatement: PostgresPreparedStatement {
        static let sql = """
            INSERT INTO reviews (id, state, level, level_rank, risk, deadline, assignee, requester, updated_at, version, document)
            SELECT id, state, level, level_rank, risk, deadline, NULLIF(assignee, ''), requester, updated_at, 1, document
            FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::float8[], $6::timestamptz[], $7::text[], $8::text[],
                $9::timestamptz[], $10::text[])
                AS r(id, state, level, level_rank, risk, deadline, assignee, requester, updated_at, document)
            """
        typealias Row = ()

        var requests: [ReviewRequest]
        var documents: [String]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 10)
            bindings.append(requests.map(\.id))
            bindings.append(requests.map(\.state.rawValue))
            bindings.append(requests.map(\.level.rawValue))
            bindings.append(requests.map { Int64(PostgresReviewRepository.rank($0.level)) })
            bindings.append(requests.map(\.risk.score))
            bindings.append(requests.map { PostgresTimestamp($0.deadline) })
            bindings.append(requests.map { $0.assignee ?? "" })
            bindings.append(requests.map(\.requester))
            bindings.append(requests.map { PostgresTimestamp($0.updatedAt) })
            bindings.append(documents)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws {}
    }

    public func update(_ request: ReviewRequest, expectedVersion version: Int) async throws -> Int {
        let document = ReviewDocument.encode(request)
        let rows = try await store.query(
            """
            UPDATE reviews SET state = \(request.state.rawValue), level = \(request.level.rawValue), level_rank = \(Self.rank(request.level)),
                risk = \(request.risk.score), deadline = \(timestamp: request.deadline), assignee = \(request.assignee),
                requester = \(request.requester), updated_at = \(timestamp: request.updatedAt), document = \(document), version = version + 1
            WHERE id = \(request.id) AND version = \(version) RETURNING version
            """)
        guard let row = rows.first else {
            throw try await find(id: request.id) == nil ? ReviewStoreError.notFound(request.id) : ReviewStoreError.versionConflict(request.id)
        }
        return try PostgresRowReader(row, table: "reviews").value("version")
    }

    public func find(id: String) async throws -> StoredReview? {
        guard let row = try await store.query("SELECT version, document FROM reviews WHERE id = \(id)").first else { return nil }
        let c = PostgresRowReader(row, table: "reviews")
        return StoredReview(request: try Self.decode(c), version: try c.value("version"))
    }

    public func list(_ query: ReviewQuery) async throws -> [ReviewRequest] {
        // `ReviewOrder` in SQL, so that the limit cuts the queue where the queue's order does: open
        // first, by level (most urgent first), deadline, then risk (highest first); decided ones most
        // recently updated first; the id breaks the remaining ties.
        let states = query.states.map { $0.map(\.rawValue) }
        let rows = try await store.query(
            """
            SELECT document FROM (
                SELECT *, state = ANY(\(Self.openStates)) AS open FROM reviews
                WHERE (\(states)::text[] IS NULL OR state = ANY(\(states)))
                    AND (\(query.level?.rawValue)::text IS NULL OR level = \(query.level?.rawValue))
                    AND (\(query.assignee)::text IS NULL OR assignee = \(query.assignee))
                    AND (\(query.requester)::text IS NULL OR requester = \(query.requester))
            ) AS matching
            ORDER BY open DESC, CASE WHEN open THEN level_rank END DESC, CASE WHEN open THEN deadline END,
                CASE WHEN open THEN risk END DESC, CASE WHEN NOT open THEN updated_at END DESC, id
            LIMIT \(max(query.limit, 0))
            """)
        return try rows.map { try Self.decode(PostgresRowReader($0, table: "reviews")) }
    }

    public func due(at now: Date, limit: Int) async throws -> [String] {
        let rows = try await store.query(
            """
            SELECT id FROM reviews WHERE state = ANY(\(Self.openStates)) AND deadline <= \(timestamp: now)
            ORDER BY deadline, id LIMIT \(max(limit, 0))
            """)
        return try rows.map { try PostgresRowReader($0, table: "reviews").value("id") }
    }

    public func openCount() async throws -> Int {
        let rows = try await store.query("SELECT COUNT(*) AS n FROM reviews WHERE state = ANY(\(Self.openStates))")
        return try rows.first.map { try PostgresRowReader($0, table: "reviews").value("n") } ?? 0
    }

    public func openCountsByAssignee() async throws -> [String: Int] {
        let rows = try await store.query(
            """
            SELECT assignee, COUNT(*) AS n FROM reviews WHERE state = ANY(\(Self.openStates)) AND assignee IS NOT NULL
            GROUP BY assignee
            """)
        var counts: [String: Int] = [:]
        for row in rows {
            let c = PostgresRowReader(row, table: "reviews")
            counts[try c.value("assignee")] = try c.value("n")
        }
        return counts
    }

    public func ping() async throws {
        try await store.ping()
    }

    /// The level's place in `EscalationLevel`'s order, so that SQL can sort by it.
    static func rank(_ level: EscalationLevel) -> Int {
        EscalationLevel.allCases.filter { $0 < level }.count
    }

    static func decode(_ c: PostgresRowReader) throws -> ReviewRequest {
        do {
            return try ReviewDocument.decode(try c.value("document"))
        } catch {
            throw c.unreadable("document")
        }
    }
}
