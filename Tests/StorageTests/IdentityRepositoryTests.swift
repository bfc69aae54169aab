import AuditLog
import Foundation
import Testing

@testable import Storage

/// The stores, which must behave alike: every test in the first suite runs on each.
enum IdentityBackend: String, CaseIterable, CustomTestStringConvertible {
    case memory, sqlite, postgres

    var testDescription: String { rawValue }

    /// Runs `body` on a fresh store, in a directory (SQLite) or a database (PostgreSQL) of its own.
    func withStore(_ body: @Sendable (any IdentityRepository) async throws -> Void) async throws {
        switch self {
        case .memory:
            try await body(InMemoryIdentityRepository())
        case .sqlite:
            try await withSQLiteFile(open: { try await SQLiteIdentityRepository.open(path: $0) }, close: { try await $0.close() }, body)
        case .postgres:
            try await withPostgres { store in try await body(PostgresIdentityRepository(store: store)) }
        }
    }
}

/// Fixtures. Dates are whole milliseconds, which every store keeps exactly (see `StoredDate`).
enum Fixture {
    static func at(_ seconds: Int, ms: Int = 0) -> Date {
        Date(timeIntervalSince1970: Double(1_800_000_000_000 + seconds * 1000 + ms) / 1000)
    }

    static func user(_ id: String, _ username: String, created: Int = 0) -> UserRecord {
        UserRecord(
            id: id, username: username, passwordHash: "$2b$12$hash-of-\(id)", roles: [.reviewer, .policyAuthor], createdAt: at(created, ms: 123),
            updatedAt: at(created, ms: 456))
    }

    static func agent(_ id: String, name: String? = nil, created: Int = 0) -> AgentRecord {
        AgentRecord(
            id: id, name: name ?? "agent \(id)", owner: "team-a", scopes: ["decisions:write", "audit/read"], createdAt: at(created, ms: 7),
            updatedAt: at(created, ms: 8))
    }

    static func key(_ id: String, agent: String, created: Int = 0) -> APIKeyRecord {
        APIKeyRecord(id: id, agentId: agent, prefix: "acgs_\(id)", hash: "sha256-\(id)", createdAt: at(created, ms: 1), expiresAt: at(86_400))
    }

    static func token(_ id: String, family: String = "f1", subject: String = "u1", kind: SubjectKind = .user) -> RefreshTokenRecord {
        RefreshTokenRecord(
            id: id, familyId: family, subjectId: subject, subjectKind: kind, hash: "rt-\(id)", createdAt: at(0, ms: 999),
            expiresAt: at(3600))
    }

    /// The token that would replace `id` when it is spent (`attempt` tells concurrent tries apart).
    static func successor(of id: String, family: String = "f1", attempt: Int = 0) -> RefreshTokenRecord {
        token("\(id)-next\(attempt)", family: family)
    }
}

@Suite("Identity store, every backend")
struct IdentityRepositoryTests {
    typealias F = Fixture

    @Test(arguments: IdentityBackend.allCases)
    func usersRoundTripAndList(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            var alice = F.user("u1", "alice")
            alice.status = .suspended
            alice.totpSecret = "JBSWY3DPEHPK3PXP"
            alice.totpEnabled = true
            alice.recoveryCodeHashes = ["r1", "r2"]
            alice.failedAttempts = 3
            alice.lockedUntil = F.at(900, ms: 5)
            alice.roles = Role.allCases
            try await repo.createUser(alice)
            try await repo.createUser(F.user("u2", "Bob"))
            try await repo.createUser(F.user("u3", "carol"))

            #expect(try await repo.user(id: "u1") == alice)
            #expect(try await repo.user(username: "alice") == alice)
            #expect(try await repo.user(username: "Alice") == nil, "usernames are case-sensitive")
            #expect(try await repo.user(id: "nope") == nil)
            #expect(try await repo.user(username: "Bob")?.lockedUntil == nil)
            #expect(try await repo.user(username: "Bob")?.totpSecret == nil)
            // Byte order: upper case sorts before lower case.
            #expect(try await repo.listUsers().map(\.username) == ["Bob", "alice", "carol"])
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func duplicateUsersConflict(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            try await repo.createUser(F.user("u1", "alice"))
            await #expect(throws: IdentityStoreError.conflict("users.username")) { try await repo.createUser(F.user("u2", "alice")) }
            await #expect(throws: IdentityStoreError.conflict("users.id")) { try await repo.createUser(F.user("u1", "other")) }
            // Both taken: both stores name the username.
            await #expect(throws: IdentityStoreError.conflict("users.username")) { try await repo.createUser(F.user("u1", "alice")) }
            try await repo.createUser(F.user("u3", "ALICE"))
            #expect(try await repo.listUsers().count == 2)
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func updatesAndDeletesUsers(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            try await repo.createUser(F.user("u1", "alice"))
            try await repo.createUser(F.user("u2", "bob"))

            // Each change writes its own columns only.
            _ = try await repo.beginLoginAttempt(userId: "u1", at: F.at(5), maxFailures: 2, lockUntil: F.at(50))
            _ = try await repo.beginLoginAttempt(userId: "u1", at: F.at(6), maxFailures: 2, lockUntil: F.at(50))
            let suspended = try #require(try await repo.updateUserAccess(id: "u1", status: .suspended, roles: [.auditor], at: F.at(60)))
            var expected = F.user("u1", "alice")
            (expected.status, expected.roles, expected.lockedUntil, expected.updatedAt) = (.suspended, [.auditor], F.at(50), F.at(60))
            #expect(suspended == expected, "suspending keeps the lock")
            #expect(try await repo.user(id: "u1") == expected)
            #expect(try await repo.setPasswordHash(userId: "u1", hash: "$2b$12$new", at: F.at(61)))
            #expect(try await repo.beginTOTPEnrolment(userId: "u1", secret: "S1", recoveryCodeHashes: ["r1"], at: F.at(62)))
            #expect(try await repo.confirmTOTPEnrolment(userId: "u1", secret: "S0", at: F.at(63)) == false, "only the pending secret")
            #expect(try await repo.confirmTOTPEnrolment(userId: "u1", secret: "S1", at: F.at(63)))
            let reactivated = try #require(try await repo.updateUserAccess(id: "u1", status: .active, roles: nil, at: F.at(64)))
            (expected.status, expected.lockedUntil, expected.passwordHash, expected.updatedAt) = (.active, nil, "$2b$12$new", F.at(64))
            (expected.totpSecret, expected.totpEnabled, expected.recoveryCodeHashes) = ("S1", true, ["r1"])
            #expect(reactivated == expected, "reactivating clears the lock; the password and the second factor stay")
            #expect(try await repo.user(username: "alice") == expected)

            #expect(try await repo.updateUserAccess(id: "ghost", status: .active, roles: nil, at: F.at(1)) == nil)
            #expect(try await repo.setPasswordHash(userId: "ghost", hash: "x", at: F.at(1)) == false)
            #expect(try await repo.beginTOTPEnrolment(userId: "ghost", secret: "S", recoveryCodeHashes: [], at: F.at(1)) == false)

            try await repo.deleteUser(id: "u1")
            #expect(try await repo.user(id: "u1") == nil)
            #expect(try await repo.user(username: "alice") == nil)
            await #expect(throws: IdentityStoreError.notFound("user u1")) { try await repo.deleteUser(id: "u1") }
            try await repo.createUser(F.user("u9", "alice2"))
            #expect(try await repo.listUsers().map(\.id) == ["u9", "u2"])
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func signInAttemptsAreCountedBeforeTheyAreCheckedAndLockAtTheLimit(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            try await repo.createUser(F.user("u1", "alice"))
            let lockUntil = F.at(900)
            var admissions: [LoginAdmission] = []
            for second in 1...6 {
                admissions.append(try await repo.beginLoginAttempt(userId: "u1", at: F.at(second), maxFailures: 5, lockUntil: lockUntil))
            }
            #expect(admissions == [.admitted, .admitted, .admitted, .admitted, .admittedAndLocked, .refused])
            let locked = try #require(try await repo.user(id: "u1"))
            #expect(locked.lockedUntil == lockUntil && locked.failedAttempts == 0)
            #expect(try await repo.beginLoginAttempt(userId: "u1", at: F.at(900), maxFailures: 5, lockUntil: F.at(1800)) == .admitted, "the lock ends")
            #expect(try await repo.user(id: "u1")?.lockedUntil == nil)
            #expect(try await repo.user(id: "u1")?.failedAttempts == 1)
            try await repo.clearLoginFailures(userId: "u1", at: F.at(901))
            #expect(try await repo.user(id: "u1")?.failedAttempts == 0)
            #expect(try await repo.beginLoginAttempt(userId: "ghost", at: F.at(1), maxFailures: 5, lockUntil: lockUntil) == .refused)
            #expect(try await repo.user(id: "u1")?.passwordHash == F.user("u1", "alice").passwordHash, "nothing else changes")
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func signInAttemptsSentAtOnceAreEachCounted(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            try await repo.createUser(F.user("u1", "alice"))
            let admissions = try await withThrowingTaskGroup(of: LoginAdmission.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await repo.beginLoginAttempt(userId: "u1", at: F.at(1), maxFailures: 5, lockUntil: F.at(900)) }
                }
                return try await group.reduce(into: [LoginAdmission]()) { $0.append($1) }
            }
            #expect(admissions.filter { $0 != .refused }.count == 5, "\(admissions)")
            #expect(admissions.filter { $0 == .admittedAndLocked }.count == 1)
            #expect(try await repo.user(id: "u1")?.lockedUntil == F.at(900))
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func aRecoveryCodeIsConsumedOnceEvenAtOnce(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            var user = F.user("u1", "alice")
            user.recoveryCodeHashes = ["c1", "c2", "c3"]
            try await repo.createUser(user)
            #expect(try await repo.consumeRecoveryCode(userId: "u1", codeHash: "c2", at: F.at(1)))
            #expect(try await repo.consumeRecoveryCode(userId: "u1", codeHash: "c2", at: F.at(2)) == false)
            #expect(try await repo.consumeRecoveryCode(userId: "u1", codeHash: "nope", at: F.at(2)) == false)
            #expect(try await repo.user(id: "u1")?.recoveryCodeHashes == ["c1", "c3"])
            let uses = try await withThrowingTaskGroup(of: Bool.self) { group in
                for code in ["c1", "c1", "c3", "c3", "c1", "c3"] {
                    group.addTask { try await repo.consumeRecoveryCode(userId: "u1", codeHash: code, at: F.at(3)) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(uses == 2, "each code once")
            #expect(try await repo.user(id: "u1")?.recoveryCodeHashes == [])
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func deletingAUserDeletesOnlyItsRefreshTokens(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            try await repo.createUser(F.user("u1", "alice"))
            try await repo.createRefreshToken(F.token("t1", subject: "u1"))
            try await repo.createRefreshToken(F.token("t2", family: "f2", subject: "u2"))
            try await repo.deleteUser(id: "u1")
            #expect(try await repo.refreshToken(hash: "rt-t1") == nil)
            #expect(try await repo.refreshToken(hash: "rt-t2") != nil)
            #expect(try await repo.rotateRefreshToken(id: "t1", at: F.at(1), successor: F.successor(of: "t1", attempt: 1)) == false)
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func agentsRoundTripUpdateDeleteAndList(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            let a1 = F.agent("a1", name: "summariser")
            try await repo.createAgent(a1)
            try await repo.createAgent(F.agent("a2", name: "classifier"))
            try await repo.createAgent(F.agent("a0", name: "summariser"))
            #expect(try await repo.agent(id: "a1") == a1)
            #expect(try await repo.agent(id: "nope") == nil)
            #expect(try await repo.listAgents().map(\.id) == ["a2", "a0", "a1"])
            await #expect(throws: IdentityStoreError.conflict("agents.id")) { try await repo.createAgent(F.agent("a1")) }

            var changed = a1
            changed.status = .retired
            changed.roles = [.agent, .auditor]
            changed.scopes = []
            changed.updatedAt = F.at(10, ms: 1)
            #expect(try await repo.updateAgentAccess(id: "a1", status: .retired, roles: [.agent, .auditor], scopes: [], at: F.at(10, ms: 1)) == changed)
            #expect(try await repo.agent(id: "a1") == changed)
            changed.status = .active
            changed.updatedAt = F.at(11)
            #expect(try await repo.updateAgentAccess(id: "a1", status: .active, roles: nil, scopes: nil, at: F.at(11)) == changed, "nil: unchanged")
            #expect(try await repo.updateAgentAccess(id: "ghost", status: .active, roles: nil, scopes: nil, at: F.at(1)) == nil)

            try await repo.deleteAgent(id: "a1")
            #expect(try await repo.agent(id: "a1") == nil)
            await #expect(throws: IdentityStoreError.notFound("agent a1")) { try await repo.deleteAgent(id: "a1") }
            #expect(try await repo.listAgents().map(\.id) == ["a2", "a0"])
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func apiKeys(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            try await repo.createAgent(F.agent("a1"))
            try await repo.createAgent(F.agent("a2"))
            let k1 = F.key("k1", agent: "a1", created: 2)
            try await repo.createAPIKey(k1)
            try await repo.createAPIKey(F.key("k2", agent: "a1", created: 1))
            try await repo.createAPIKey(F.key("k3", agent: "a2"))

            #expect(try await repo.apiKey(hash: "sha256-k1") == k1)
            #expect(try await repo.apiKey(id: "k1") == k1)
            #expect(try await repo.apiKey(hash: "sha256-none") == nil)
            #expect(try await repo.apiKeys(agentId: "a1").map(\.id) == ["k2", "k1"])
            #expect(try await repo.apiKeys(agentId: "none").isEmpty)

            var sameHash = F.key("k4", agent: "a1")
            sameHash.hash = k1.hash
            await #expect(throws: IdentityStoreError.conflict("api_keys.hash")) { try await repo.createAPIKey(sameHash) }
            var sameId = F.key("k1", agent: "a2")
            sameId.hash = "sha256-fresh"
            await #expect(throws: IdentityStoreError.conflict("api_keys.id")) { try await repo.createAPIKey(sameId) }
            await #expect(throws: IdentityStoreError.conflict("api_keys.hash")) { try await repo.createAPIKey(F.key("k1", agent: "a2")) }
            await #expect(throws: IdentityStoreError.notFound("agent ghost")) { try await repo.createAPIKey(F.key("k5", agent: "ghost")) }

            #expect(try await repo.revokeAPIKey(id: "k1", at: F.at(5)) == true)
            #expect(try await repo.revokeAPIKey(id: "k1", at: F.at(6)) == false)
            #expect(try await repo.apiKey(id: "k1")?.revokedAt == F.at(5), "the first revocation's time stays")
            #expect(try await repo.revokeAPIKey(id: "none", at: F.at(5)) == false)
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func deletingAnAgentDeletesItsKeysAndTokens(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            try await repo.createAgent(F.agent("a1"))
            try await repo.createAgent(F.agent("a2"))
            try await repo.createAPIKey(F.key("k1", agent: "a1"))
            try await repo.createAPIKey(F.key("k2", agent: "a1"))
            try await repo.createAPIKey(F.key("k3", agent: "a2"))
            try await repo.createRefreshToken(F.token("t1", subject: "a1", kind: .agent))
            try await repo.createRefreshToken(F.token("t2", family: "f2", subject: "a2", kind: .agent))

            try await repo.deleteAgent(id: "a1")
            #expect(try await repo.apiKeys(agentId: "a1").isEmpty)
            #expect(try await repo.apiKey(hash: "sha256-k1") == nil)
            #expect(try await repo.apiKey(id: "k2") == nil)
            #expect(try await repo.apiKey(id: "k3") != nil)
            #expect(try await repo.refreshToken(hash: "rt-t1") == nil)
            #expect(try await repo.refreshToken(hash: "rt-t2") != nil)
            // The hash is free again once its key is gone.
            try await repo.createAPIKey(F.key("k1", agent: "a2"))
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func expiredRefreshTokensArePruned(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            try await repo.createRefreshToken(F.token("old"))  // expires at at(3600)
            var fresh = F.token("fresh")
            fresh.expiresAt = F.at(7200)
            try await repo.createRefreshToken(fresh)
            var next = F.successor(of: "fresh", attempt: 10)
            next.expiresAt = F.at(7200)
            #expect(try await repo.rotateRefreshToken(id: "fresh", at: F.at(10), successor: next))
            #expect(try await repo.pruneRefreshTokens(before: F.at(3600)) == 1)
            #expect(try await repo.refreshToken(hash: "rt-old") == nil)
            #expect(try await repo.refreshToken(hash: "rt-fresh")?.usedAt != nil, "a spent token stays until it expires")
            #expect(try await repo.pruneRefreshTokens(before: F.at(3600)) == 0)
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func refreshTokensAreSingleUse(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            let t1 = F.token("t1")
            try await repo.createRefreshToken(t1)
            #expect(try await repo.refreshToken(hash: "rt-t1") == t1)
            #expect(try await repo.refreshToken(hash: "rt-none") == nil)
            var sameId = F.token("t1")
            sameId.hash = "rt-fresh"
            await #expect(throws: IdentityStoreError.conflict("refresh_tokens.id")) { try await repo.createRefreshToken(sameId) }
            await #expect(throws: IdentityStoreError.conflict("refresh_tokens.hash")) { try await repo.createRefreshToken(F.token("t1")) }
            var sameHash = F.token("t9")
            sameHash.hash = t1.hash
            await #expect(throws: IdentityStoreError.conflict("refresh_tokens.hash")) { try await repo.createRefreshToken(sameHash) }

            #expect(try await repo.rotateRefreshToken(id: "t1", at: F.at(10), successor: F.successor(of: "t1", attempt: 10)) == true)
            #expect(try await repo.rotateRefreshToken(id: "t1", at: F.at(11), successor: F.successor(of: "t1", attempt: 11)) == false)
            #expect(try await repo.refreshToken(hash: "rt-t1")?.usedAt == F.at(10))
            #expect(try await repo.refreshToken(hash: "rt-t1-next10") == F.successor(of: "t1", attempt: 10), "the successor is stored with the spend")
            #expect(try await repo.refreshToken(hash: "rt-t1-next11") == nil, "a failed spend stores nothing")
            #expect(try await repo.rotateRefreshToken(id: "none", at: F.at(10), successor: F.successor(of: "none", attempt: 10)) == false)

            // Revoked tokens cannot be used, nor can tokens stored as used already.
            try await repo.createRefreshToken(F.token("t2", family: "f2"))
            try await repo.revokeRefreshFamily("f2", at: F.at(20))
            #expect(try await repo.rotateRefreshToken(id: "t2", at: F.at(21), successor: F.successor(of: "t2", attempt: 21)) == false)
            #expect(try await repo.refreshToken(hash: "rt-t2-next21") == nil)
            #expect(try await repo.refreshToken(hash: "rt-t2")?.usedAt == nil)
            var spent = F.token("t3", family: "f3")
            spent.usedAt = F.at(1)
            try await repo.createRefreshToken(spent)
            #expect(try await repo.rotateRefreshToken(id: "t3", at: F.at(2), successor: F.successor(of: "t3", attempt: 2)) == false)
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func concurrentUsesOfOneRefreshTokenHaveOneWinner(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            for i in 0..<50 {
                let id = "t\(i)"
                try await repo.createRefreshToken(F.token(id, family: "f\(i)"))
                let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for attempt in 0..<2 {
                        group.addTask {
                            try await repo.rotateRefreshToken(id: id, at: F.at(attempt), successor: F.successor(of: id, family: "f\(i)", attempt: attempt))
                        }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                #expect(wins == 1, "token \(id)")
                let successors = [try await repo.refreshToken(hash: "rt-\(id)-next0"), try await repo.refreshToken(hash: "rt-\(id)-next1")]
                #expect(successors.compactMap { $0 }.count == 1, "only the winner's successor is stored")
            }
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func familyRevocation(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            try await repo.createRefreshToken(F.token("a", family: "f1"))
            var earlier = F.token("b", family: "f1")
            earlier.revokedAt = F.at(5)
            try await repo.createRefreshToken(earlier)
            try await repo.createRefreshToken(F.token("c", family: "f2"))

            try await repo.revokeRefreshFamily("f1", at: F.at(30))
            #expect(try await repo.refreshToken(hash: "rt-a")?.revokedAt == F.at(30))
            #expect(try await repo.refreshToken(hash: "rt-b")?.revokedAt == F.at(5), "an earlier revocation stays")
            #expect(try await repo.refreshToken(hash: "rt-c")?.revokedAt == nil)
            #expect(try await repo.rotateRefreshToken(id: "c", at: F.at(31), successor: F.successor(of: "c", attempt: 31)) == true)
            try await repo.revokeRefreshFamily("no-such-family", at: F.at(30))
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func subjectRevocation(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            try await repo.createRefreshToken(F.token("a", family: "f1", subject: "u1"))
            try await repo.createRefreshToken(F.token("b", family: "f2", subject: "u1"))
            try await repo.createRefreshToken(F.token("c", family: "f3", subject: "u2"))

            try await repo.revokeRefreshTokens(subjectId: "u1", at: F.at(40))
            #expect(try await repo.refreshToken(hash: "rt-a")?.revokedAt == F.at(40))
            #expect(try await repo.refreshToken(hash: "rt-b")?.revokedAt == F.at(40))
            #expect(try await repo.refreshToken(hash: "rt-c")?.revokedAt == nil)
            #expect(try await repo.rotateRefreshToken(id: "a", at: F.at(41), successor: F.successor(of: "a", attempt: 41)) == false)
            #expect(try await repo.rotateRefreshToken(id: "c", at: F.at(41), successor: F.successor(of: "c", attempt: 41)) == true)
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func revokedAccessTokens(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            try await repo.revokeAccessToken(jti: "j1", expiresAt: F.at(100))
            try await repo.revokeAccessToken(jti: "j2", expiresAt: F.at(200))
            try await repo.revokeAccessToken(jti: "j3", expiresAt: F.at(300))
            // Revoking again is harmless and keeps the later expiry.
            try await repo.revokeAccessToken(jti: "j3", expiresAt: F.at(50))
            #expect(try await repo.isAccessTokenRevoked(jti: "j1"))
            #expect(try await !repo.isAccessTokenRevoked(jti: "other"))

            #expect(try await repo.pruneRevokedAccessTokens(before: F.at(99, ms: 999)) == 0)
            #expect(try await repo.pruneRevokedAccessTokens(before: F.at(200)) == 2, "expiring at `now` counts as expired")
            #expect(try await !repo.isAccessTokenRevoked(jti: "j1"))
            #expect(try await !repo.isAccessTokenRevoked(jti: "j2"))
            #expect(try await repo.isAccessTokenRevoked(jti: "j3"))
            #expect(try await repo.pruneRevokedAccessTokens(before: F.at(299)) == 0)
            #expect(try await repo.pruneRevokedAccessTokens(before: F.at(300)) == 1)
        }
    }

    @Test(arguments: IdentityBackend.allCases)
    func datesAreKeptToTheMillisecond(_ backend: IdentityBackend) async throws {
        try await backend.withStore { repo in
            let now = Date()
            var user = F.user("u1", "alice")
            user.createdAt = Date(timeIntervalSince1970: 1_800_000_000.123_456_7)
            user.updatedAt = now
            user.lockedUntil = Date(timeIntervalSince1970: 1_800_000_000.000_4)
            try await repo.createUser(user)
            let stored = try #require(try await repo.user(id: "u1"))
            #expect(stored.createdAt == Date(timeIntervalSince1970: 1_800_000_000.123))
            #expect(stored.lockedUntil == Date(timeIntervalSince1970: 1_800_000_000))
            #expect(abs(stored.updatedAt.timeIntervalSince(now)) <= 0.001)
            #expect(stored.updatedAt == StoredDate.normalized(now))
            // Storing what was read back changes nothing: rounding is idempotent.
            #expect(try await repo.updateUserAccess(id: "u1", status: nil, roles: nil, at: stored.updatedAt) == stored)
        }
    }
}

@Suite("SQLite identity store")
struct SQLiteIdentityRepositoryTests {
    typealias F = Fixture

    @Test func survivesReopeningAndMigratesOnce() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/acgs.sqlite"
        let first = try await SQLiteIdentityRepository.open(path: path)
        try await first.createUser(F.user("u1", "alice"))
        try await first.createAgent(F.agent("a1"))
        try await first.createAPIKey(F.key("k1", agent: "a1"))
        try await first.createRefreshToken(F.token("t1"))
        #expect(try await first.rotateRefreshToken(id: "t1", at: F.at(3), successor: F.successor(of: "t1", attempt: 3)))
        try await first.revokeAccessToken(jti: "j1", expiresAt: F.at(100))
        try await first.close()

        let second = try await SQLiteIdentityRepository.open(path: path)
        #expect(try await second.user(username: "alice") == F.user("u1", "alice"))
        #expect(try await second.agent(id: "a1") == F.agent("a1"))
        #expect(try await second.apiKey(hash: "sha256-k1") == F.key("k1", agent: "a1"))
        #expect(try await second.refreshToken(hash: "rt-t1")?.usedAt == F.at(3))
        #expect(try await second.isAccessTokenRevoked(jti: "j1"))
        let versions = try await second.connection.query("SELECT version FROM identity_schema_migrations")
        #expect(versions.count == SQLiteIdentityRepository.migrations.count)
        // The cascade to API keys needs foreign keys on in every connection, reopened ones included.
        try await second.deleteAgent(id: "a1")
        #expect(try await second.apiKey(id: "k1") == nil)
        try await second.close()
    }

    @Test func sharesTheDatabaseFileWithTheAuditLog() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/acgs.sqlite"
        // Either may be first to create the file; open them in both orders.
        let audit = try await SQLiteAuditRepository.open(path: path)
        let identities = try await SQLiteIdentityRepository.open(path: path)
        _ = try await AuditLogWriter.open(repository: audit).append(decisionEvent("d1"))
        try await identities.createUser(F.user("u1", "alice"))
        try await identities.close()
        try await audit.close()

        let identities2 = try await SQLiteIdentityRepository.open(path: path)
        let audit2 = try await SQLiteAuditRepository.open(path: path)
        let writer = try await AuditLogWriter.open(repository: audit2)
        async let appended = writer.append(decisionEvent("d2"))
        async let created: Void = identities2.createUser(F.user("u2", "bob"))
        _ = try await (appended, created)
        #expect(try await audit2.count() == 2)
        #expect(try await identities2.listUsers().map(\.id) == ["u1", "u2"])
        try await identities2.close()
        try await audit2.close()
    }

    @Test func anUnreadableRowIsAnErrorNotAnAbsence() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let repo = try await SQLiteIdentityRepository.open(path: dir + "/acgs.sqlite")
        try await repo.createUser(F.user("u1", "alice"))
        _ = try await repo.connection.query(#"UPDATE users SET roles = '["overlord"]' WHERE id = 'u1'"#)
        await #expect(throws: IdentityRowUnreadable.self) { try await repo.user(id: "u1") }
        try await repo.close()
    }
}
