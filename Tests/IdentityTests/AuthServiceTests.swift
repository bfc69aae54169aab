import Foundation
import GovernanceCore
import Storage
import Testing

@testable import Identity

/// An auth service over an in-memory store, with a cheap bcrypt cost.
func makeAuth() async throws -> (AuthService, RecordingAuthEventSink) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("acgs-auth-\(UUID().uuidString)").path
    var policy = AuthPolicy()
    policy.bcryptCost = 4
    let keys = try await SigningKeyStore(directory: directory, retiredKeyLifetime: policy.accessTokenLifetime)
    let tokens = await TokenService(keys: keys, issuer: policy.issuer, audience: policy.audience, lifetime: policy.accessTokenLifetime)
    let events = RecordingAuthEventSink()
    let auth = AuthService(repository: InMemoryIdentityRepository(), tokens: tokens, events: events, policy: policy) { "cdd01ef066bc6cf2" }
    return (auth, events)
}

@Suite("Auth service")
struct AuthServiceTests {
    /// A refresh token presented several times at once (a thief and its owner, say): one use wins,
    /// the others are reuse, and reuse revokes the family, the winner's new token included, however
    /// the uses interleave.
    @Test func aRefreshTokenUsedSeveralTimesAtOnceLeavesNoLiveSuccessor() async throws {
        let (auth, events) = try await makeAuth()
        _ = try await auth.createUser(username: "mia", password: "correct horse battery staple", roles: [.reviewer], by: nil)
        for trial in 0..<20 {
            let grant = try await auth.passwordGrant(username: "mia", password: "correct horse battery staple", otp: nil)
            let refresh = try #require(grant.refreshToken)
            let outcomes = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<4 { group.addTask { try? await auth.refreshGrant(refresh).refreshToken } }
                return await group.reduce(into: [String?]()) { $0.append($1) }
            }
            let winners = outcomes.compactMap { $0 }
            #expect(winners.count == 1, "trial \(trial): one use wins")
            for successor in winners {
                await #expect(throws: AuthError.invalidToken("invalid refresh token"), "trial \(trial): the family is revoked") {
                    try await auth.refreshGrant(successor)
                }
            }
        }
        #expect(events.events.filter { $0.kind == .refreshReuseDetected }.count >= 20, "each trial's reuse is recorded")
    }

    /// Guesses sent at once are counted as they arrive: five are checked, the fifth locks the
    /// account, the rest are refused unchecked, and the right password is refused too until the lock
    /// ends. Before, each concurrent failure wrote back the count it had read, and thirty guesses at
    /// once left the account unlocked.
    @Test func guessesSentAtOnceStillLockTheAccount() async throws {
        let (auth, events) = try await makeAuth()
        _ = try await auth.createUser(username: "mia", password: "correct horse battery staple", roles: [.reviewer], by: nil)
        let now = Date()
        let refused = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<30 {
                group.addTask { (try? await auth.passwordGrant(username: "mia", password: "guess number \(i)", otp: nil, now: now)) == nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(refused == 30)
        await #expect(throws: AuthError.invalidCredentials) {
            try await auth.passwordGrant(username: "mia", password: "correct horse battery staple", otp: nil, now: now)
        }
        let failures = events.events.filter { $0.kind == .loginFailed }.compactMap { $0.details["reason"] }
        #expect(failures.filter { $0 == "bad_password" || $0 == "locked_out" }.count == 5, "five guesses were checked")
        #expect(failures.filter { $0 == "locked" }.count == 26, "the others, and the right password, were refused unchecked")
        #expect(events.events.filter { $0.kind == .lockedOut }.count == 1)
        let later = now.addingTimeInterval(15 * 60 + 1)
        #expect(try await auth.passwordGrant(username: "mia", password: "correct horse battery staple", otp: nil, now: later).refreshToken != nil)
    }

    /// An admin's suspension and the person's own password change, at the same time: both stand.
    /// Before, each wrote back the whole row it had read, and the password change undid the
    /// suspension (six times in six against a live server).
    @Test func aSuspensionIsNotUndoneByAConcurrentPasswordChange() async throws {
        let (auth, _) = try await makeAuth()
        for trial in 0..<10 {
            let user = try await auth.createUser(username: "user\(trial)", password: "old password 123", roles: [.reviewer], by: nil)
            async let change: Void = auth.changePassword(userId: user.id, current: "old password 123", new: "new password 456", by: user.id)
            async let suspend = auth.updateUser(id: user.id, status: .suspended, roles: nil, by: "admin")
            _ = try await (change, suspend)
            let stored = try #require(try await auth.repository.user(id: user.id))
            #expect(stored.status == .suspended, "trial \(trial)")
            #expect(stored.passwordHash != user.passwordHash, "trial \(trial): the new password stands too")
        }
    }

    @Test func validationsAreCachedAndStillRevocable() async throws {
        let (auth, _) = try await makeAuth()
        let agent = try await auth.createAgent(name: "a", owner: "o", by: nil)
        let (key, _) = try await auth.createAPIKey(agentId: agent.id, expiresAt: nil, by: nil)
        let grant = try await auth.apiKeyGrant(key: key)
        let first = try await auth.authenticate(bearer: grant.accessToken)
        let second = try await auth.authenticate(bearer: grant.accessToken)
        #expect(!first.cacheHit && second.cacheHit)
        #expect(second.0.roles == [.agent] && second.0.kind == .agent)
        try await auth.revoke(grant.accessToken, by: nil)
        await #expect(throws: AuthError.invalidToken("credential revoked")) { try await auth.authenticate(bearer: grant.accessToken) }
    }

    /// Replicas share principals through the L2 cache as JSON: the rule input (built once per
    /// principal) comes back with it, and is not part of the shared JSON.
    @Test func principalsRoundTripWithTheirRuleInput() throws {
        let principal = Principal(
            id: "agt_1", kind: .agent, name: "billing \"bot\"", roles: [.reviewer, .agent], method: .apiKey, apiKeyId: "key_1",
            issuedAt: Date(timeIntervalSince1970: 1_700_000_000), expiresAt: Date(timeIntervalSince1970: 1_700_000_900))
        #expect(principal.asRuleInput == ["id": "agt_1", "name": "billing \"bot\"", "kind": "agent", "roles": ["agent", "reviewer"]])
        #expect(principal.canonicalRuleInput == #"{"id":"agt_1","kind":"agent","name":"billing \"bot\"","roles":["agent","reviewer"]}"#)
        let data = try JSONEncoder().encode(principal)
        #expect(!String(decoding: data, as: UTF8.self).contains("canonical"))
        let decoded = try JSONDecoder().decode(Principal.self, from: data)
        #expect(decoded == principal)
        #expect(decoded.canonicalRuleInput == principal.canonicalRuleInput)
    }

    @Test func expiredAndRevokedKeysAreRefused() async throws {
        let (auth, _) = try await makeAuth()
        let agent = try await auth.createAgent(name: "a", owner: "o", by: nil)
        let now = Date()
        let (key, record) = try await auth.createAPIKey(agentId: agent.id, expiresAt: now.addingTimeInterval(60), by: nil, now: now)
        _ = try await auth.authenticate(bearer: key, now: now)
        await #expect(throws: AuthError.self) { try await auth.authenticate(bearer: key, now: now.addingTimeInterval(61)) }
        await #expect(throws: AuthError.invalidRequest("expires_at must be in the future")) {
            try await auth.createAPIKey(agentId: agent.id, expiresAt: now.addingTimeInterval(-1), by: nil, now: now)
        }
        try await auth.revokeAPIKey(id: record.id, by: nil)
        await #expect(throws: AuthError.self) { try await auth.authenticate(bearer: key, now: now) }
        await #expect(throws: AuthError.notFound("API key \(record.id)")) { try await auth.revokeAPIKey(id: record.id, by: nil) }
    }

    @Test func aRoleChangeEndsExistingTokens() async throws {
        let (auth, events) = try await makeAuth()
        let user = try await auth.createUser(username: "u", password: "a password long enough", roles: [.admin], by: nil)
        let now = Date().addingTimeInterval(-5)
        let grant = try await auth.passwordGrant(username: "u", password: "a password long enough", otp: nil, now: now)
        _ = try await auth.authenticate(bearer: grant.accessToken)
        _ = try await auth.updateUser(id: user.id, status: nil, roles: [.auditor], by: "someone")
        await #expect(throws: AuthError.self) { try await auth.authenticate(bearer: grant.accessToken) }
        let fresh = try await auth.passwordGrant(username: "u", password: "a password long enough", otp: nil)
        #expect(try await auth.authenticate(bearer: fresh.accessToken).0.roles == [.auditor])
        #expect(events.events.contains { $0.kind == .roleChanged && $0.actor == "someone" })
    }

    @Test func lockoutEndsAfterItsDuration() async throws {
        let (auth, _) = try await makeAuth()
        _ = try await auth.createUser(username: "l", password: "the real password", roles: [.reviewer], by: nil)
        let start = Date()
        for _ in 0..<auth.policy.maxFailedLogins {
            await #expect(throws: AuthError.invalidCredentials) { try await auth.passwordGrant(username: "l", password: "nope nope nope", otp: nil, now: start) }
        }
        await #expect(throws: AuthError.invalidCredentials) { try await auth.passwordGrant(username: "l", password: "the real password", otp: nil, now: start) }
        let later = start.addingTimeInterval(auth.policy.lockoutDuration.seconds + 1)
        _ = try await auth.passwordGrant(username: "l", password: "the real password", otp: nil, now: later)
    }

    @Test func passwordsFollowThePolicyAndAreHashed() async throws {
        let (auth, _) = try await makeAuth()
        await #expect(throws: AuthError.self) { try await auth.createUser(username: "s", password: "short", roles: [.auditor], by: nil) }
        let user = try await auth.createUser(username: "s", password: "long enough password", roles: [.auditor], by: nil)
        #expect(user.passwordHash.hasPrefix("$2"))
        #expect(!user.passwordHash.contains("long enough password"))
        await #expect(throws: AuthError.conflict("users.username")) {
            try await auth.createUser(username: "s", password: "long enough password", roles: [.auditor], by: nil)
        }
    }

    @Test func theFirstAdminIsCreatedOnce() async throws {
        let (auth, _) = try await makeAuth()
        let created = try #require(try await auth.ensureAdmin(password: nil))
        #expect(created.username == "admin")
        let password = try #require(created.generatedPassword)
        _ = try await auth.passwordGrant(username: "admin", password: password, otp: nil)
        #expect(try await auth.ensureAdmin(password: nil) == nil)
    }

    @Test func eventsCarryNoSecrets() async throws {
        let (auth, events) = try await makeAuth()
        let agent = try await auth.createAgent(name: "a", owner: "o", by: nil)
        let (key, _) = try await auth.createAPIKey(agentId: agent.id, expiresAt: nil, by: nil)
        _ = try await auth.createUser(username: "e", password: "secret password 123", roles: [.auditor], by: nil)
        _ = try? await auth.passwordGrant(username: "e", password: "wrong password!!", otp: nil)
        let grant = try await auth.passwordGrant(username: "e", password: "secret password 123", otp: nil)
        let text = events.events.map { "\($0)" }.joined()
        for secret in [key, "secret password 123", "wrong password!!", grant.accessToken, grant.refreshToken ?? "-"] {
            #expect(!text.contains(secret))
        }
    }
}
