import Foundation
import GovernanceCore
import Testing

@testable import Storage

@Suite("Review store")
struct ReviewRepositoryTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func request(_ id: String, risk: Double, urgency: ReviewUrgency = .normal, at: Date = t0) -> ReviewRequest {
        ReviewRequest(
            id: id, requester: "agt_1", action: ["type": "deploy"], context: ["environment": "production"], urgency: urgency,
            risk: RiskAssessment(factors: [RiskFactor(name: "test", weight: risk, detail: "")]), constitutionalHash: "cdd01ef066bc6cf2",
            policy: ReviewPolicy(), at: at)
    }

    func stores() async throws -> [(String, any ReviewRepository, () async throws -> Void)] {
        let dir = try temporaryDirectory()
        let sqlite = try await SQLiteReviewRepository.open(path: dir + "/acgs.sqlite")
        return [("memory", InMemoryReviewRepository(), {}), ("sqlite", sqlite, { try await sqlite.close() })]
    }

    @Test func storesUpdatesWithVersionsAndFindsDue() async throws {
        for (name, store, close) in try await stores() {
            var r = Self.request("rev_a", risk: 0.4)
            try await store.insert(r)
            #expect(try await store.find(id: "rev_a")?.request == r, "\(name)")
            try r.claim(by: ReviewActor(id: "usr_1", roles: ["reviewer"]), policy: ReviewPolicy(), at: Self.t0)
            #expect(try await store.update(r, expectedVersion: 1) == 2, "\(name)")
            await #expect(throws: ReviewStoreError.versionConflict("rev_a")) { try await store.update(r, expectedVersion: 1) }
            #expect(try await store.find(id: "rev_a")?.request.state == .inReview)
            #expect(try await store.due(at: Self.t0, limit: 10).isEmpty)
            #expect(try await store.due(at: r.deadline, limit: 10) == ["rev_a"], "\(name)")
            try await close()
        }
    }

    @Test func theStoredDocumentReadsBackAsTheSameRequest() throws {
        var r = ReviewRequest(
            id: "rev_doc", requester: "agt_1", actingFor: ["usr_b", "usr_a"], action: ["type": "deploy", "arguments": ["replicas": 3]],
            context: ["environment": "production", "note": "quote \" and \\ and \u{1}"], reason: "ship it", urgency: .high,
            risk: RiskAssessment(factors: [RiskFactor(name: "rule", weight: 0.85, detail: "r1 (critical, escalate)")]), decisionId: "dec_1",
            constitutionalHash: "cdd01ef066bc6cf2", policy: ReviewPolicy(), at: Date(timeIntervalSince1970: 1_800_000_000.123))
        let a = ReviewActor(id: "usr_c", roles: ["council_member"])
        try r.decide(
            ReviewVote(reviewer: "", verdict: .approve, reason: "ok", principle: "oversight", level: .technicalReview, at: Self.t0), by: a,
            policy: ReviewPolicy(), at: Date(timeIntervalSince1970: 1_800_000_100.456))
        var changes = Self.request("rev_changes", risk: 0.4)
        try changes.decide(
            ReviewVote(reviewer: "", verdict: .requestChanges, reason: "smaller", changedArguments: ["replicas": 1], level: .technicalReview, at: Self.t0),
            by: ReviewActor(id: "usr_r", roles: ["reviewer"]), policy: ReviewPolicy(), at: Self.t0)
        for request in [r, changes, Self.request("rev_plain", risk: 0.1)] {
            #expect(try SQLiteReviewRepository.decode(SQLiteReviewRepository.encode(request)) == request)
        }
    }

    @Test func theQueueComesInOrderAndFilters() async throws {
        for (name, store, close) in try await stores() {
            try await store.insert(Self.request("rev_low", risk: 0.35))
            try await store.insert(Self.request("rev_council", risk: 0.9))
            try await store.insert(Self.request("rev_urgent", risk: 0.1, urgency: .critical))
            try await store.insert(Self.request("rev_fast", risk: 0.05))
            let open = try await store.list(ReviewQuery(states: [.pending, .inReview, .escalated]))
            #expect(open.map(\.id) == ["rev_urgent", "rev_council", "rev_low"], "\(name)")
            let all = try await store.list(ReviewQuery())
            #expect(all.last?.id == "rev_fast", "\(name): decided requests last")
            #expect(try await store.list(ReviewQuery(level: .constitutionalCouncil)).map(\.id) == ["rev_council"])
            #expect(try await store.list(ReviewQuery(requester: "agt_2")).isEmpty)
            try await close()
        }
    }
}
