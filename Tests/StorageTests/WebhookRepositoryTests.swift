import Foundation
import Testing

@testable import Storage

/// The webhook stores, which must behave alike: every test of the first suite runs on each.
enum WebhookBackend: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// Runs `body` on a fresh store, in a directory (SQLite) or a database (PostgreSQL) of its own.
    func withStore(_ body: @Sendable (any WebhookRepository) async throws -> Void) async throws {
        switch self {
        case .sqlite:
            try await withSQLiteFile(open: { try await SQLiteWebhookRepository.open(path: $0) }, close: { try await $0.close() }, body)
        case .postgres:
            try await withPostgres { store in try await body(PostgresWebhookRepository(store: store)) }
        }
    }
}

enum WebhookFixture {
    static let mine = WebhookRecord(
        id: "whk_a", agentId: "agt_1", url: "https://example.com/a", secret: "s1", createdBy: "agt_1", createdAt: Date(timeIntervalSince1970: 1))
    static let all = WebhookRecord(
        id: "whk_all", agentId: nil, url: "https://example.com/all", secret: "s2", createdBy: "usr_admin",
        createdAt: Date(timeIntervalSince1970: 2))

    static func item(_ id: String, state: String, at seconds: Double) -> WebhookOutboxItem {
        WebhookOutboxItem(id: id, webhookId: "whk_a", reviewId: "rev_1", state: state, body: "{}", createdAt: Date(timeIntervalSince1970: seconds))
    }

    static func delivery(_ id: String, attempt: Int, status: Int?, error: String? = nil, at seconds: Double) -> WebhookDelivery {
        WebhookDelivery(
            id: id, webhookId: "whk_a", reviewId: "rev_1", state: "pending", attempt: attempt, status: status, error: error,
            at: Date(timeIntervalSince1970: seconds))
    }
}

@Suite("Webhook store, every backend")
struct WebhookRepositoryTests {
    typealias F = WebhookFixture

    @Test(arguments: WebhookBackend.allCases)
    func hooksAreFoundListedAndDeleted(_ backend: WebhookBackend) async throws {
        try await backend.withStore { store in
            try await store.insert(F.all)
            try await store.insert(F.mine)
            #expect(try await store.find(id: "whk_a") == F.mine)
            #expect(try await store.find(id: "whk_all") == F.all)
            #expect(try await store.find(id: "whk_none") == nil)
            #expect(try await store.receivers(of: "agt_1").map(\.id) == ["whk_a", "whk_all"], "oldest first")
            #expect(try await store.receivers(of: "agt_2").map(\.id) == ["whk_all"])
            #expect(try await store.list(agentId: "agt_1") == [F.mine])
            #expect(try await store.list(agentId: nil) == [F.mine, F.all])
            #expect(try await store.delete(id: "whk_a"))
            #expect(try await !store.delete(id: "whk_a"))
            #expect(try await store.list(agentId: nil) == [F.all])
        }
    }

    @Test(arguments: WebhookBackend.allCases)
    func replicasTakeOnlyItemsNobodyHolds(_ backend: WebhookBackend) async throws {
        @Sendable func at(_ seconds: Double) -> Date { Date(timeIntervalSince1970: seconds) }
        try await backend.withStore { store in
            try await store.enqueue([F.item("d1", state: "pending", at: 10)], claim: OutboxClaim(owner: "rep_a", until: at(100)))
            try await store.enqueue([F.item("d2", state: "pending", at: 11)])
            try await store.enqueue([F.item("d3", state: "approved", at: 12)], claim: OutboxClaim(owner: "rep_a", until: at(100)))
            #expect(try await store.take(OutboxClaim(owner: "rep_b", until: at(200)), now: at(50)).map(\.id) == ["d2"], "only the unclaimed item")
            #expect(
                try await store.take(OutboxClaim(owner: "rep_c", until: at(400)), now: at(150)).map(\.id) == ["d1", "d3"],
                "rep_a stopped renewing: its items, oldest first")
            try await store.renew(OutboxClaim(owner: "rep_b", until: at(300)))
            #expect(try await store.take(OutboxClaim(owner: "rep_d", until: at(500)), now: at(250)).isEmpty, "every item is held")
            #expect(try await store.take(OutboxClaim(owner: "rep_d", until: at(500)), now: at(350)).map(\.id) == ["d2"], "rep_b's renewal ran out")
            #expect(try await store.outbox().map(\.id) == ["d1", "d2", "d3"], "taking moves nothing out of the outbox")
        }
    }

    @Test(arguments: WebhookBackend.allCases)
    func theOutboxKeepsItemsInOrderUntilDequeued(_ backend: WebhookBackend) async throws {
        try await backend.withStore { store in
            try await store.enqueue([])
            try await store.enqueue([F.item("d2", state: "pending", at: 10), F.item("d3", state: "in_review", at: 10)])
            try await store.enqueue([F.item("d1", state: "approved", at: 9), F.item("d4", state: "approved", at: 11)])
            try await store.attempted("d3", attempts: 2)
            try await store.attempted("d_none", attempts: 1)
            var expected = [F.item("d1", state: "approved", at: 9), F.item("d2", state: "pending", at: 10), F.item("d3", state: "in_review", at: 10)]
            expected[2].attempts = 2
            expected.append(F.item("d4", state: "approved", at: 11))
            #expect(try await store.outbox() == expected, "oldest first, then in the order added; attempts kept")
            try await store.dequeue("d2")
            try await store.dequeue("d_none")
            #expect(try await store.outbox().map(\.id) == ["d1", "d3", "d4"])
        }
    }

    @Test(arguments: WebhookBackend.allCases)
    func deliveriesAreLoggedMostRecentFirst(_ backend: WebhookBackend) async throws {
        try await backend.withStore { store in
            let first = F.delivery("d1", attempt: 1, status: nil, error: "connection refused", at: 100)
            let second = F.delivery("d1", attempt: 2, status: 503, at: 130)
            let third = F.delivery("d1", attempt: 3, status: 200, at: 190)
            try await store.log(first)
            try await store.log(third)
            try await store.log(second)
            var other = F.delivery("d9", attempt: 1, status: 200, at: 150)
            other.webhookId = "whk_b"
            try await store.log(other)
            #expect(try await store.deliveries(webhookId: "whk_a", limit: 5) == [third, second, first])
            #expect(try await store.deliveries(webhookId: "whk_a", limit: 1) == [third])
            #expect(try await store.deliveries(webhookId: "whk_b", limit: 5) == [other])
            #expect(try await store.deliveries(webhookId: "whk_none", limit: 5).isEmpty)
        }
    }
}

@Suite("SQLite webhook store")
struct SQLiteWebhookRepositoryTests {
    typealias F = WebhookFixture

    @Test func hooksOutboxAndLogSurviveReopening() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var store = try await SQLiteWebhookRepository.open(path: dir + "/acgs.sqlite")
        try await store.insert(F.mine)
        try await store.insert(F.all)
        try await store.enqueue([F.item("d1", state: "pending", at: 10), F.item("d2", state: "approved", at: 11)])
        try await store.attempted("d1", attempts: 2)
        try await store.log(WebhookDelivery(id: "d1", webhookId: "whk_a", reviewId: "rev_1", state: "pending", attempt: 2, status: 503, error: nil, at: Date()))
        try await store.close()

        store = try await SQLiteWebhookRepository.open(path: dir + "/acgs.sqlite")
        #expect(try await store.receivers(of: "agt_1").map(\.id) == ["whk_a", "whk_all"])
        #expect(try await store.outbox().map { "\($0.id):\($0.attempts)" } == ["d1:2", "d2:0"], "oldest first, attempts kept")
        #expect(try await store.deliveries(webhookId: "whk_a", limit: 5).first?.status == 503)
        try await store.close()
    }
}
