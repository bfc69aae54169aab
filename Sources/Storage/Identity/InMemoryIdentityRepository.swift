import Foundation

/// The identity store in memory, for tests and offline use. It behaves as `SQLiteIdentityRepository`
/// does, error for error and in the same orders: dates are rounded to the millisecond on the way in,
/// conflicts name the same columns, deleting an agent deletes its keys, deleting a user or an agent
/// deletes its refresh tokens. Each method runs without suspending, so the actor makes it atomic.
public actor InMemoryIdentityRepository: IdentityRepository {
    private var users: [String: UserRecord] = [:]
    private var userIdsByUsername: [String: String] = [:]
    private var agents: [String: AgentRecord] = [:]
    private var apiKeys: [String: APIKeyRecord] = [:]
    private var apiKeyIdsByHash: [String: String] = [:]
    private var refreshTokens: [String: RefreshTokenRecord] = [:]
    private var refreshTokenIdsByHash: [String: String] = [:]
    private var revokedAccessTokens: [String: Date] = [:]

    public init() {}

    // MARK: People

    public func createUser(_ user: UserRecord) throws {
        // When both clash, SQLite reports the secondary unique column (its index is checked first).
        if userIdsByUsername[user.username] != nil { throw IdentityStoreError.conflict("users.username") }
        if users[user.id] != nil { throw IdentityStoreError.conflict("users.id") }
        users[user.id] = user.normalized
        userIdsByUsername[user.username] = user.id
    }

    public func user(id: String) -> UserRecord? {
        users[id]
    }

    public func user(username: String) -> UserRecord? {
        userIdsByUsername[username].flatMap { users[$0] }
    }

    /// Applies `change` to a stored user and stamps it `at`, unless `change` declines (returns
    /// false); nil when there is no such user or it declined.
    private func changeUser(_ id: String, at: Date, _ change: (inout UserRecord) -> Bool) -> UserRecord? {
        guard var user = users[id], change(&user) else { return nil }
        user.updatedAt = at
        users[id] = user.normalized
        return users[id]
    }

    public func updateUserAccess(id: String, status: IdentityStatus?, roles: [Role]?, at: Date) -> UserRecord? {
        changeUser(id, at: at) { user in
            if let status { user.status = status }
            if let roles { user.roles = roles }
            if status == .active {
                user.failedAttempts = 0
                user.lockedUntil = nil
            }
            return true
        }
    }

    public func setPasswordHash(userId: String, hash: String, at: Date) -> Bool {
        changeUser(userId, at: at) { $0.passwordHash = hash; return true } != nil
    }

    public func beginTOTPEnrolment(userId: String, secret: String, recoveryCodeHashes: [String], at: Date) -> Bool {
        changeUser(userId, at: at) { user in
            (user.totpSecret, user.totpEnabled, user.recoveryCodeHashes) = (secret, false, recoveryCodeHashes)
            return true
        } != nil
    }

    public func confirmTOTPEnrolment(userId: String, secret: String, at: Date) -> Bool {
        changeUser(userId, at: at) { user in
            guard user.totpSecret == secret else { return false }
            user.totpEnabled = true
            return true
        } != nil
    }

    public func beginLoginAttempt(userId: String, at: Date, maxFailures: Int, lockUntil: Date) -> LoginAdmission {
        let admitted = changeUser(userId, at: at) { user in
            if let until = user.lockedUntil, until > at { return false }
            user.failedAttempts += 1
            user.lockedUntil = nil
            if user.failedAttempts >= maxFailures {
                user.failedAttempts = 0
                user.lockedUntil = lockUntil
            }
            return true
        }
        guard let admitted else { return .refused }
        return admitted.lockedUntil == nil ? .admitted : .admittedAndLocked
    }

    public func clearLoginFailures(userId: String, at: Date) {
        _ = changeUser(userId, at: at) { user in
            (user.failedAttempts, user.lockedUntil) = (0, nil)
            return true
        }
    }

    public func consumeRecoveryCode(userId: String, codeHash: String, at: Date) -> Bool {
        changeUser(userId, at: at) { user in
            guard let index = user.recoveryCodeHashes.firstIndex(of: codeHash) else { return false }
            user.recoveryCodeHashes.remove(at: index)
            return true
        } != nil
    }

    public func deleteUser(id: String) throws {
        guard let old = users.removeValue(forKey: id) else { throw IdentityStoreError.notFound("user \(id)") }
        userIdsByUsername[old.username] = nil
        deleteRefreshTokens(subjectId: id, kind: .user)
    }

    public func listUsers() -> [UserRecord] {
        users.values.sorted { Self.precedes($0.username, $1.username) }
    }

    // MARK: Agents

    public func createAgent(_ agent: AgentRecord) throws {
        if agents[agent.id] != nil { throw IdentityStoreError.conflict("agents.id") }
        agents[agent.id] = agent.normalized
    }

    public func agent(id: String) -> AgentRecord? {
        agents[id]
    }

    public func updateAgentAccess(id: String, status: IdentityStatus?, roles: [Role]?, scopes: [String]?, at: Date) -> AgentRecord? {
        guard var agent = agents[id] else { return nil }
        if let status { agent.status = status }
        if let roles { agent.roles = roles }
        if let scopes { agent.scopes = scopes }
        agent.updatedAt = at
        agents[id] = agent.normalized
        return agents[id]
    }

    public func deleteAgent(id: String) throws {
        guard agents.removeValue(forKey: id) != nil else { throw IdentityStoreError.notFound("agent \(id)") }
        for key in apiKeys.values where key.agentId == id {
            apiKeys[key.id] = nil
            apiKeyIdsByHash[key.hash] = nil
        }
        deleteRefreshTokens(subjectId: id, kind: .agent)
    }

    public func listAgents() -> [AgentRecord] {
        agents.values.sorted { $0.name != $1.name ? Self.precedes($0.name, $1.name) : Self.precedes($0.id, $1.id) }
    }

    // MARK: API keys

    public func createAPIKey(_ key: APIKeyRecord) throws {
        if apiKeyIdsByHash[key.hash] != nil { throw IdentityStoreError.conflict("api_keys.hash") }
        if apiKeys[key.id] != nil { throw IdentityStoreError.conflict("api_keys.id") }
        guard agents[key.agentId] != nil else { throw IdentityStoreError.notFound("agent \(key.agentId)") }
        apiKeys[key.id] = key.normalized
        apiKeyIdsByHash[key.hash] = key.id
    }

    public func apiKey(hash: String) -> APIKeyRecord? {
        apiKeyIdsByHash[hash].flatMap { apiKeys[$0] }
    }

    public func apiKey(id: String) -> APIKeyRecord? {
        apiKeys[id]
    }

    public func apiKeys(agentId: String) -> [APIKeyRecord] {
        apiKeys.values.filter { $0.agentId == agentId }.sorted { Self.precedes(($0.createdAt, $0.id), ($1.createdAt, $1.id)) }
    }

    public func revokeAPIKey(id: String, at: Date) -> Bool {
        guard let key = apiKeys[id], key.revokedAt == nil else { return false }
        apiKeys[id]?.revokedAt = StoredDate.normalized(at)
        return true
    }

    // MARK: Refresh tokens

    public func createRefreshToken(_ token: RefreshTokenRecord) throws {
        if refreshTokenIdsByHash[token.hash] != nil { throw IdentityStoreError.conflict("refresh_tokens.hash") }
        if refreshTokens[token.id] != nil { throw IdentityStoreError.conflict("refresh_tokens.id") }
        refreshTokens[token.id] = token.normalized
        refreshTokenIdsByHash[token.hash] = token.id
    }

    public func refreshToken(hash: String) -> RefreshTokenRecord? {
        refreshTokenIdsByHash[hash].flatMap { refreshTokens[$0] }
    }

    public func rotateRefreshToken(id: String, at: Date, successor: RefreshTokenRecord) throws -> Bool {
        guard let token = refreshTokens[id], token.usedAt == nil, token.revokedAt == nil else { return false }
        try createRefreshToken(successor)
        refreshTokens[id]?.usedAt = StoredDate.normalized(at)
        return true
    }

    public func revokeRefreshFamily(_ familyId: String, at: Date) {
        revokeRefreshTokens(at: at) { $0.familyId == familyId }
    }

    public func revokeRefreshTokens(subjectId: String, at: Date) {
        revokeRefreshTokens(at: at) { $0.subjectId == subjectId }
    }

    // MARK: Revoked access tokens

    public func revokeAccessToken(jti: String, expiresAt: Date) {
        let expiresAt = StoredDate.normalized(expiresAt)
        // A second revocation of the same token keeps the later expiry, as the SQLite upsert does.
        revokedAccessTokens[jti] = max(revokedAccessTokens[jti] ?? expiresAt, expiresAt)
    }

    public func isAccessTokenRevoked(jti: String) -> Bool {
        revokedAccessTokens[jti] != nil
    }

    public func ping() {}

    public func pruneRefreshTokens(before now: Date) -> Int {
        let now = StoredDate.normalized(now)
        let expired = refreshTokens.values.filter { $0.expiresAt <= now }
        for token in expired {
            refreshTokens[token.id] = nil
            refreshTokenIdsByHash[token.hash] = nil
        }
        return expired.count
    }

    public func pruneRevokedAccessTokens(before now: Date) -> Int {
        let now = StoredDate.normalized(now)
        let expired = revokedAccessTokens.filter { $0.value <= now }.keys
        for jti in expired { revokedAccessTokens[jti] = nil }
        return expired.count
    }

    // MARK: Helpers

    private func revokeRefreshTokens(at: Date, where matches: (RefreshTokenRecord) -> Bool) {
        let at = StoredDate.normalized(at)
        for token in refreshTokens.values where token.revokedAt == nil && matches(token) {
            refreshTokens[token.id]?.revokedAt = at
        }
    }

    private func deleteRefreshTokens(subjectId: String, kind: SubjectKind) {
        for token in refreshTokens.values where token.subjectId == subjectId && token.subjectKind == kind {
            refreshTokens[token.id] = nil
            refreshTokenIdsByHash[token.hash] = nil
        }
    }

    /// SQLite's default (BINARY) collation: byte order of the UTF-8 encoding, which `String`'s own
    /// `<` does not follow outside ASCII.
    private static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// `ORDER BY created_at, id`.
    private static func precedes(_ a: (Date, String), _ b: (Date, String)) -> Bool {
        a.0 != b.0 ? a.0 < b.0 : precedes(a.1, b.1)
    }
}

extension UserRecord {
    var normalized: UserRecord {
        var copy = self
        copy.lockedUntil = lockedUntil.map(StoredDate.normalized)
        copy.createdAt = StoredDate.normalized(createdAt)
        copy.updatedAt = StoredDate.normalized(updatedAt)
        return copy
    }
}

extension AgentRecord {
    var normalized: AgentRecord {
        var copy = self
        copy.createdAt = StoredDate.normalized(createdAt)
        copy.updatedAt = StoredDate.normalized(updatedAt)
        return copy
    }
}

extension APIKeyRecord {
    var normalized: APIKeyRecord {
        var copy = self
        copy.createdAt = StoredDate.normalized(createdAt)
        copy.expiresAt = expiresAt.map(StoredDate.normalized)
        copy.revokedAt = revokedAt.map(StoredDate.normalized)
        return copy
    }
}

extension RefreshTokenRecord {
    var normalized: RefreshTokenRecord {
        var copy = self
        copy.createdAt = StoredDate.normalized(createdAt)
        copy.expiresAt = StoredDate.normalized(expiresAt)
        copy.usedAt = usedAt.map(StoredDate.normalized)
        copy.revokedAt = revokedAt.map(StoredDate.normalized)
        return copy
    }
}
