import Foundation
import Testing

@testable import Storage

@Suite("Webhook store")
struct WebhookRepositoryTests {
    @Test func hooksOutboxAndLogPersist() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var store = try await SQLiteWebhookRepository.open(path: dir + "/acgs.sqlite")
        let mine = WebhookRecord(id: "whk_a", agentId: "agt_1", url: "https://example.com/a", secret: "s1", createdBy: "agt_1", createdAt: Date(timeIntervalSince1970: 1))
        let all = WebhookRecord(id: "whk_all", agentId: nil, url: "https://example.com/all", secret: "s2", createdBy: "usr_admin", createdAt: Date(timeIntervalSince1970: 2))
        try await store.insert(mine)
        try await store.insert(all)
        #expect(try await store.receivers(of: "agt_1").map(\.id) == ["whk_a", "whk_all"])
        #expect(try await store.receivers(of: "agt_2").map(\.id) == ["whk_all"])
        #expect(try await store.list(agentId: "agt_1") == [mine])
        try await store.enqueue([
            WebhookOutboxItem(id: "d1", webhookId: "whk_a", reviewId: "rev_1", state: "pending", body: "{}", createdAt: Date(timeIntervalSince1970: 10)),
            WebhookOutboxItem(id: "d2", webhookId: "whk_a", reviewId: "rev_1", state: "approved", body: "{}", createdAt: Date(timeIntervalSince1970: 11)),
        ])
        try await store.attempted("d1", attempts: 2)
        try await store.log(WebhookDelivery(id: "d1", webhookId: "whk_a", reviewId: "rev_1", state: "pending", attempt: 2, status: 503, error: nil, at: Date()))
        try await store.close()

        store = try await SQLiteWebhookRepository.open(path: dir + "/acgs.sqlite")
        #expect(try await store.outbox().map { "\($0.id):\($0.attempts)" } == ["d1:2", "d2:0"], "oldest first, attempts kept")
        try await store.dequeue("d1")
        #expect(try await store.outbox().map(\.id) == ["d2"])
        #expect(try await store.deliveries(webhookId: "whk_a", limit: 5).first?.status == 503)
        #expect(try await store.delete(id: "whk_a"))
        #expect(try await !store.delete(id: "whk_a"))
        try await store.close()
    }
}
