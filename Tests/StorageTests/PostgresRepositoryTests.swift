import Foundation
import GovernanceCore
import PostgresNIO
import Testing

@testable import Storage

/// A second pool on the same database, as another replica has, running for the duration of `body`.
/// Both pools have a connection open before `body` starts, so that races are races.
func withReplica<T: Sendable>(of database: PostgresStore, _ body: @Sendable (PostgresStore) async throws -> T) async throws -> T {
    let replica = try PostgresStore(url: database.location.description, maximumConnections: 4)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await replica.run() }
        defer { group.cancelAll() }
        try await database.ping()
        try await replica.ping()
        return try await body(replica)
    }
}

/// What PostgreSQL adds to the shared behaviour: replicas racing on the same rows, and rows that
/// another tool damaged.
@Suite("PostgreSQL repositories")
struct PostgresRepositoryTests {
    typealias F = Fixture

    @Test func migrationsAreSortedUniqueAndAppliedOnce() async throws {
        let versions = PostgresMigration.all.map(\.version)
        #expect(versions == versions.sorted() && Set(versions).count == versions.count)
        #expect(Set([1, 3, 4]).isSubset(of: Set(versions)))
        try await withPostgres { store in
            try await store.migrate()
            #expect(try await store.appliedMigrations() == versions)
        }
    }

    @Test func aRefreshTokenUsedOnTwoReplicasAtOnceHasOneWinner() async throws {
        try await withPostgres { store in
            try await withReplica(of: store) { replica in
                let one = PostgresIdentityRepository(store: store)
                let other = PostgresIdentityRepository(store: replica)
                for i in 0..<30 {
                    try await one.createRefreshToken(F.token("t\(i)", family: "f\(i)"))
                    async let first = one.rotateRefreshToken(id: "t\(i)", at: F.at(1), successor: F.successor(of: "t\(i)", family: "f\(i)", attempt: 1))
                    async let second = other.rotateRefreshToken(id: "t\(i)", at: F.at(2), successor: F.successor(of: "t\(i)", family: "f\(i)", attempt: 2))
                    let (a, b) = try await (first, second)
                    #expect(a != b, "token t\(i): exactly one use wins")
                    #expect(try await one.refreshToken(hash: "rt-t\(i)")?.usedAt == F.at(a ? 1 : 2), "the winner's time stays")
                    #expect(try await one.refreshToken(hash: "rt-t\(i)-next\(a ? 1 : 2)") != nil, "the winner's successor is stored")
                    #expect(try await one.refreshToken(hash: "rt-t\(i)-next\(a ? 2 : 1)") == nil, "the loser's is not")
                }
            }
        }
    }

    @Test func aKeyRevokedOnTwoReplicasAtOnceIsRevokedOnce() async throws {
        try await withPostgres { store in
            try await withReplica(of: store) { replica in
                let one = PostgresIdentityRepository(store: store)
                let other = PostgresIdentityRepository(store: replica)
                try await one.createAgent(F.agent("a1"))
                for i in 0..<20 {
                    try await one.createAPIKey(F.key("k\(i)", agent: "a1"))
                    async let first = one.revokeAPIKey(id: "k\(i)", at: F.at(1))
                    async let second = other.revokeAPIKey(id: "k\(i)", at: F.at(2))
                    let (a, b) = try await (first, second)
                    #expect(a != b, "key k\(i)")
                }
                // Concurrent revocations of one access token keep the later expiry.
                async let first: Void = one.revokeAccessToken(jti: "j1", expiresAt: F.at(300))
                async let second: Void = other.revokeAccessToken(jti: "j1", expiresAt: F.at(100))
                _ = try await (first, second)
                #expect(try await one.pruneRevokedAccessTokens(before: F.at(299)) == 0)
            }
        }
    }

    @Test func aReviewUpdatedOnTwoReplicasFromTheSameVersionHasOneWinner() async throws {
        try await withPostgres { store in
            try await withReplica(of: store) { replica in
                let one = PostgresReviewRepository(store: store)
                let other = PostgresReviewRepository(store: replica)
                for i in 0..<20 {
                    let request = ReviewRepositoryTests.request("rev_\(i)", risk: 0.4)
                    try await one.insert(request)
                    let claimed = try Self.claimed(request, by: "usr_1")
                    let claimedByAnother = try Self.claimed(request, by: "usr_2")
                    async let first = Self.outcome { try await one.update(claimed, expectedVersion: 1) }
                    async let second = Self.outcome { try await other.update(claimedByAnother, expectedVersion: 1) }
                    let outcomes = await [first, second]
                    #expect(outcomes.filter { $0 == .updated(2) }.count == 1, "rev_\(i): \(outcomes)")
                    #expect(outcomes.filter { $0 == .conflict }.count == 1, "rev_\(i): \(outcomes)")
                    let stored = try #require(try await one.find(id: "rev_\(i)"))
                    #expect(stored.version == 2)
                    #expect(stored.request == (outcomes[0] == .conflict ? claimedByAnother : claimed), "the winner's request is stored")
                }
            }
        }
    }

    @Test func aDuplicateReviewIsAConflict() async throws {
        try await withPostgres { store in
            let reviews = PostgresReviewRepository(store: store)
            try await reviews.insert(ReviewRepositoryTests.request("rev_a", risk: 0.4))
            await #expect(throws: ReviewStoreError.versionConflict("rev_a")) {
                try await reviews.insert(ReviewRepositoryTests.request("rev_a", risk: 0.9))
            }
        }
    }

    @Test func anUnreadableRowIsAnErrorNotAnAbsence() async throws {
        try await withPostgres { store in
            let identities = PostgresIdentityRepository(store: store)
            try await identities.createUser(F.user("u1", "alice"))
            try await identities.createAgent(F.agent("a1"))
            try await store.query("UPDATE users SET roles = ARRAY['overlord'] WHERE id = 'u1'")
            try await store.query("UPDATE agents SET status = 'dormant' WHERE id = 'a1'")
            await #expect(throws: PostgresStoreError.unreadableRow("users.roles")) { try await identities.user(id: "u1") }
            await #expect(throws: PostgresStoreError.unreadableRow("users.roles")) { try await identities.listUsers() }
            await #expect(throws: PostgresStoreError.unreadableRow("agents.status")) { try await identities.agent(id: "a1") }

            let reviews = PostgresReviewRepository(store: store)
            try await reviews.insert(ReviewRepositoryTests.request("rev_a", risk: 0.4))
            try await store.query(#"UPDATE reviews SET document = '{"id": "rev_a"}' WHERE id = 'rev_a'"#)
            await #expect(throws: PostgresStoreError.unreadableRow("reviews.document")) { try await reviews.find(id: "rev_a") }
            await #expect(throws: PostgresStoreError.unreadableRow("reviews.document")) { try await reviews.list(ReviewQuery()) }

            let webhooks = PostgresWebhookRepository(store: store)
            try await webhooks.insert(WebhookFixture.mine)
            try await store.query("UPDATE webhooks SET created_at = 'infinity' WHERE id = 'whk_a'")
            await #expect(throws: PostgresStoreError.unreadableRow("webhooks.created_at")) { try await webhooks.find(id: "whk_a") }
        }
    }

    @Test func datesReadBackToTheMillisecondWhateverTheirEra() async throws {
        try await withPostgres { store in
            let identities = PostgresIdentityRepository(store: store)
            for (i, seconds) in [-86_400.0005, -1.0015, 0, 946_684_799.9994, 946_684_800.0005, 4_102_444_800.123_4].enumerated() {
                var user = F.user("u\(i)", "user\(i)")
                user.createdAt = Date(timeIntervalSince1970: seconds)
                try await identities.createUser(user)
                #expect(try await identities.user(id: "u\(i)")?.createdAt == StoredDate.normalized(user.createdAt), "\(seconds)")
            }
            // Written finer than a millisecond by another tool: rounded to the nearest, as the stores round.
            try await store.query("UPDATE users SET locked_until = '2027-01-15 08:00:00.0006+00' WHERE id = 'u0'")
            #expect(try await identities.user(id: "u0")?.lockedUntil == Date(timeIntervalSince1970: 1_800_000_000.001))
        }
    }

    static func claimed(_ request: ReviewRequest, by reviewer: String) throws -> ReviewRequest {
        var claimed = request
        try claimed.claim(by: ReviewActor(id: reviewer, roles: ["reviewer"]), policy: ReviewPolicy(), at: ReviewRepositoryTests.t0)
        return claimed
    }

    enum Outcome: Equatable {
        case updated(Int), conflict, failed(String)
    }

    static func outcome(_ body: @Sendable () async throws -> Int) async -> Outcome {
        do {
            return .updated(try await body())
        } catch ReviewStoreError.versionConflict {
            return .conflict
        } catch {
            return .failed("\(error)")
        }
    }
}
