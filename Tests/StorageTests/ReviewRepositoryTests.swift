import Foundation
import GovernanceCore
import Testing

@testable import Storage

/// The review stores, which must behave alike: every test of the suite runs on each.
enum ReviewBackend: String, CaseIterable, CustomTestStringConvertible {
    case memory, sqlite, postgres

    var testDescription: String { rawValue }

    /// Runs `body` on a fresh store, in a directory (SQLite) or a database (PostgreSQL) of its own.
    func withStore(_ body: @Sendable (any ReviewRepository) async throws -> Void) async throws {
        switch self {
        case .memory:
            try await body(InMemoryReviewRepository())
        case .sqlite:
            try await withSQLiteFile(open: { try await SQLiteReviewRepository.open(path: $0) }, close: { try await $0.close() }, body)
        case .postgres:
            try await withPostgres { store in try await body(PostgresReviewRepository(store: store)) }
        }
    }
}

@Suite("Review store, every backend")
struct ReviewRepositoryTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func request(_ id: String, risk: Double, urgency: ReviewUrgency = .normal, at: Date = t0) -> ReviewRequest {
        ReviewRequest(
            id: id, requester: "agt_1", action: ["type": "deploy"], context: ["environment": "production"], urgency: urgency,
            risk: RiskAssessment(factors: [RiskFactor(name: "test", weight: risk, detail: "")]), constitutionalHash: "cdd01ef066bc6cf2",
            policy: ReviewPolicy(), at: at)
    }

    /// Requests with every optional field and vote kind filled, sub-second dates and awkward text.
    static func decidedRequests() throws -> [ReviewRequest] {
        var r = ReviewRequest(
            id: "rev_doc", requester: "agt_1", actingFor: ["usr_b", "usr_a"], action: ["type": "deploy", "arguments": ["replicas": 3]],
            context: ["environment": "production", "note": "quote \" and \\ and \u{1} and \u{0}"], reason: "ship it", urgency: .high,
            risk: RiskAssessment(factors: [RiskFactor(name: "rule", weight: 0.85, detail: "r1 (critical, escalate)")]), decisionId: "dec_1",
            constitutionalHash: "cdd01ef066bc6cf2", policy: ReviewPolicy(), at: Date(timeIntervalSince1970: 1_800_000_000.123))
        let a = ReviewActor(id: "usr_c", roles: ["council_member"])
        try r.decide(
            ReviewVote(reviewer: "", verdict: .approve, reason: "ok", principle: "oversight", level: .technicalReview, at: t0), by: a,
            policy: ReviewPolicy(), at: Date(timeIntervalSince1970: 1_800_000_100.456))
        var changes = request("rev_changes", risk: 0.4)
        try changes.decide(
            ReviewVote(reviewer: "", verdict: .requestChanges, reason: "smaller", changedArguments: ["replicas": 1], level: .technicalReview, at: t0),
            by: ReviewActor(id: "usr_r", roles: ["reviewer"]), policy: ReviewPolicy(), at: t0)
        return [r, changes, request("rev_plain", risk: 0.1)]
    }

    /// An insert started before other work and awaited after it: stored once, and a second insert
    /// of the same id fails alone (on SQLite, queued on the file writer at once).
    @Test(arguments: ReviewBackend.allCases)
    func insertsStartedNowAreAwaitedLater(backend: ReviewBackend) async throws {
        try await backend.withStore { store in
            let first = Self.request("rev_a", risk: 0.1)
            let pending = [first, Self.request("rev_b", risk: 0.2), first].map { store.beginInsert($0) }
            try await pending[0].value()
            try await pending[1].value()
            await #expect(throws: (any Error).self) { try await pending[2].value() }
            #expect(try await store.find(id: "rev_a")?.version == 1)
            #expect(try await store.find(id: "rev_b")?.request == Self.request("rev_b", risk: 0.2))
        }
    }

    @Test func theStoredDocumentReadsBackAsTheSameRequest() throws {
        for request in try Self.decidedRequests() {
            let document = ReviewDocument.encode(request)
            #expect(try ReviewDocument.decode(document) == request)
            // Canonical, so that SQLite and PostgreSQL hold the same bytes for the same request.
            #expect(CanonicalJSON.encode(try JSONValue.parse(document)) == document)
        }
    }

    @Test(arguments: ReviewBackend.allCases)
    func storedRequestsReadBackUnchanged(_ backend: ReviewBackend) async throws {
        try await backend.withStore { store in
            for request in try Self.decidedRequests() {
                try await store.insert(request)
                #expect(try await store.find(id: request.id) == StoredReview(request: request, version: 1))
            }
            #expect(try await store.find(id: "rev_none") == nil)
        }
    }

    @Test(arguments: ReviewBackend.allCases)
    func storesUpdatesWithVersionsAndFindsDue(_ backend: ReviewBackend) async throws {
        try await backend.withStore { store in
            var r = Self.request("rev_a", risk: 0.4)
            try await store.insert(r)
            #expect(try await store.find(id: "rev_a")?.request == r)
            try r.claim(by: ReviewActor(id: "usr_1", roles: ["reviewer"]), policy: ReviewPolicy(), at: Self.t0)
            #expect(try await store.update(r, expectedVersion: 1) == 2)
            await #expect(throws: ReviewStoreError.versionConflict("rev_a")) { try await store.update(r, expectedVersion: 1) }
            await #expect(throws: ReviewStoreError.notFound("rev_none")) {
                try await store.update(Self.request("rev_none", risk: 0.4), expectedVersion: 1)
            }
            #expect(try await store.find(id: "rev_a")?.request.state == .inReview)
            #expect(try await store.find(id: "rev_a")?.version == 2)
            #expect(try await store.due(at: Self.t0, limit: 10).isEmpty)
            #expect(try await store.due(at: r.deadline, limit: 10) == ["rev_a"])
            #expect(try await store.openCount() == 1)
            #expect(try await store.openCountsByAssignee() == ["usr_1": 1])
            try await store.ping()
        }
    }

    @Test(arguments: ReviewBackend.allCases)
    func theQueueComesInOrderAndFilters(_ backend: ReviewBackend) async throws {
        try await backend.withStore { store in
            try await store.insert(Self.request("rev_low", risk: 0.35))
            try await store.insert(Self.request("rev_council", risk: 0.9))
            try await store.insert(Self.request("rev_urgent", risk: 0.1, urgency: .critical))
            try await store.insert(Self.request("rev_fast", risk: 0.05))
            try await store.insert(Self.request("rev_fast_later", risk: 0.05, at: Self.t0.addingTimeInterval(60)))
            let open = try await store.list(ReviewQuery(states: [.pending, .inReview, .escalated]))
            #expect(open.map(\.id) == ["rev_urgent", "rev_council", "rev_low"])
            let all = try await store.list(ReviewQuery())
            #expect(all.suffix(2).map(\.id) == ["rev_fast_later", "rev_fast"], "decided requests last, most recent first")
            #expect(try await store.list(ReviewQuery(limit: 2)).map(\.id) == ["rev_urgent", "rev_council"], "the limit cuts the queue in order")
            #expect(try await store.list(ReviewQuery(level: .constitutionalCouncil)).map(\.id) == ["rev_council"])
            #expect(try await store.list(ReviewQuery(requester: "agt_2")).isEmpty)
            #expect(try await store.list(ReviewQuery(requester: "agt_1")).count == 5)
            #expect(try await store.openCount() == 3)
        }
    }
}
