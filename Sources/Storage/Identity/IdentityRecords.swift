import Foundation

/// The roles of ACGS-2. Each route of each service declares the roles it admits.
public enum Role: String, Sendable, Codable, CaseIterable, Hashable {
    case admin
    case agent
    case reviewer
    case policyAuthor = "policy_author"
    case councilMember = "council_member"
    case auditor
}

/// Whether an identity may act. Only `active` identities authenticate.
public enum IdentityStatus: String, Sendable, Codable, CaseIterable, Hashable {
    case active, suspended, retired
}

/// A person: signs in with a password (bcrypt) and, once enrolled, a TOTP code.
public struct UserRecord: Sendable, Codable, Hashable {
    public var id: String
    public var username: String
    public var passwordHash: String
    public var roles: [Role]
    public var status: IdentityStatus
    /// Base32 TOTP secret while enrolment is pending or confirmed; nil when no second factor.
    public var totpSecret: String?
    public var totpEnabled: Bool
    /// SHA-256 hashes of the unused one-time recovery codes.
    public var recoveryCodeHashes: [String]
    public var failedAttempts: Int
    public var lockedUntil: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, username: String, passwordHash: String, roles: [Role], status: IdentityStatus = .active,
        totpSecret: String? = nil, totpEnabled: Bool = false, recoveryCodeHashes: [String] = [], failedAttempts: Int = 0,
        lockedUntil: Date? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.username = username
        self.passwordHash = passwordHash
        self.roles = roles
        self.status = status
        self.totpSecret = totpSecret
        self.totpEnabled = totpEnabled
        self.recoveryCodeHashes = recoveryCodeHashes
        self.failedAttempts = failedAttempts
        self.lockedUntil = lockedUntil
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// An agent (service account): authenticates with API keys.
public struct AgentRecord: Sendable, Codable, Hashable {
    public var id: String
    public var name: String
    public var owner: String
    public var status: IdentityStatus
    public var roles: [Role]
    public var scopes: [String]
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, name: String, owner: String, status: IdentityStatus = .active, roles: [Role] = [.agent], scopes: [String] = [],
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.name = name
        self.owner = owner
        self.status = status
        self.roles = roles
        self.scopes = scopes
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// An API key of an agent. The key itself is shown once; only its SHA-256 and a short visible
/// prefix are kept (keys are long random strings, so a fast hash is as safe as a slow one).
public struct APIKeyRecord: Sendable, Codable, Hashable {
    public var id: String
    public var agentId: String
    public var prefix: String
    public var hash: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?

    public init(id: String, agentId: String, prefix: String, hash: String, createdAt: Date, expiresAt: Date? = nil, revokedAt: Date? = nil) {
        self.id = id
        self.agentId = agentId
        self.prefix = prefix
        self.hash = hash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }
}

/// What `beginLoginAttempt` decided.
public enum LoginAdmission: Sendable, Equatable {
    /// The user is locked: the attempt is not checked.
    case refused
    case admitted
    /// Admitted, and its count locked the user.
    case admittedAndLocked
}

/// Whose a refresh token is.
public enum SubjectKind: String, Sendable, Codable, Hashable {
    case user, agent
}

/// A refresh token: opaque, stored hashed, single use. Tokens issued from one another form a
/// family; presenting a spent token revokes the whole family.
public struct RefreshTokenRecord: Sendable, Codable, Hashable {
    public var id: String
    public var familyId: String
    public var subjectId: String
    public var subjectKind: SubjectKind
    public var hash: String
    public var createdAt: Date
    public var expiresAt: Date
    public var usedAt: Date?
    public var revokedAt: Date?

    public init(
        id: String, familyId: String, subjectId: String, subjectKind: SubjectKind, hash: String, createdAt: Date, expiresAt: Date,
        usedAt: Date? = nil, revokedAt: Date? = nil
    ) {
        self.id = id
        self.familyId = familyId
        self.subjectId = subjectId
        self.subjectKind = subjectKind
        self.hash = hash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.revokedAt = revokedAt
    }
}

public enum IdentityStoreError: Error, Sendable, Equatable {
    /// A unique field is taken; names it as `table.column` (`users.username`, `api_keys.hash`, …).
    /// When both the id and another unique field clash, the other field is named.
    case conflict(String)
    /// The record to update or delete (or the agent of a new API key) does not exist: `user <id>`, `agent <id>`.
    case notFound(String)
}

/// Where identities, keys and tokens are kept. The embedded SQLite store implements it; so will
/// PostgreSQL. Every method is atomic. Dates are kept to the millisecond: a record reads back with
/// its dates rounded to the nearest millisecond.
public protocol IdentityRepository: Sendable {
    // People
    func createUser(_ user: UserRecord) async throws
    func user(id: String) async throws -> UserRecord?
    func user(username: String) async throws -> UserRecord?
    // Each change below writes its own columns and no others, so that changes made at the same
    // time to other columns (a sign-in, a password change, a suspension) are not undone.
    /// Sets a person's status and roles (nil: unchanged); reactivating clears the sign-in lock.
    /// Returns the user as stored after the change, nil when there is no such user.
    func updateUserAccess(id: String, status: IdentityStatus?, roles: [Role]?, at: Date) async throws -> UserRecord?
    /// False when there is no such user.
    func setPasswordHash(userId: String, hash: String, at: Date) async throws -> Bool
    /// A new pending second factor, not yet required, with its recovery codes; false when there is
    /// no such user.
    func beginTOTPEnrolment(userId: String, secret: String, recoveryCodeHashes: [String], at: Date) async throws -> Bool
    /// Requires the second factor if the pending secret is still `secret` (not replaced by a newer
    /// enrolment meanwhile); false otherwise.
    func confirmTOTPEnrolment(userId: String, secret: String, at: Date) async throws -> Bool
    /// Admits a sign-in attempt, counted as a failure until `clearLoginFailures`, all in one
    /// atomic step: refused while the user is locked; the attempt that brings the count to
    /// `maxFailures` is admitted and locks the user until `lockUntil` (the count starts again).
    /// Counting before the password is checked bounds the guesses that run at once: concurrent
    /// attempts cannot all read the same count and each add one to it.
    func beginLoginAttempt(userId: String, at: Date, maxFailures: Int, lockUntil: Date) async throws -> LoginAdmission
    /// After a successful sign-in: no failures counted, no lock.
    func clearLoginFailures(userId: String, at: Date) async throws
    /// Removes a one-time recovery code if the user still has it, atomically: of two concurrent uses
    /// of one code, one finds it.
    func consumeRecoveryCode(userId: String, codeHash: String, at: Date) async throws -> Bool
    /// Also deletes the user's refresh tokens.
    func deleteUser(id: String) async throws
    /// Ordered by username (byte order).
    func listUsers() async throws -> [UserRecord]

    // Agents
    func createAgent(_ agent: AgentRecord) async throws
    func agent(id: String) async throws -> AgentRecord?
    /// Sets an agent's status, roles and scopes (nil: unchanged) and nothing else. Returns the agent
    /// as stored after the change, nil when there is no such agent.
    func updateAgentAccess(id: String, status: IdentityStatus?, roles: [Role]?, scopes: [String]?, at: Date) async throws -> AgentRecord?
    /// Also deletes the agent's API keys and refresh tokens.
    func deleteAgent(id: String) async throws
    /// Ordered by name, then id (byte order).
    func listAgents() async throws -> [AgentRecord]

    // API keys
    /// Throws `notFound` when the agent does not exist.
    func createAPIKey(_ key: APIKeyRecord) async throws
    func apiKey(hash: String) async throws -> APIKeyRecord?
    func apiKey(id: String) async throws -> APIKeyRecord?
    /// Ordered by creation time, then id.
    func apiKeys(agentId: String) async throws -> [APIKeyRecord]
    /// Sets `revokedAt` if not yet revoked; false when there is no such key or it was revoked already.
    func revokeAPIKey(id: String, at: Date) async throws -> Bool

    // Refresh tokens
    func createRefreshToken(_ token: RefreshTokenRecord) async throws
    func refreshToken(hash: String) async throws -> RefreshTokenRecord?
    /// Spends a token and stores its successor in one atomic step: only if the token is unused
    /// and not revoked; false otherwise, and nothing is stored (a second use of the same token,
    /// possibly concurrent, must see false). Because the successor exists as soon as the token is
    /// seen spent, a family revocation that follows a failed use always reaches it.
    func rotateRefreshToken(id: String, at: Date, successor: RefreshTokenRecord) async throws -> Bool
    /// Revokes every not yet revoked token of the family.
    func revokeRefreshFamily(_ familyId: String, at: Date) async throws
    /// Revokes every not yet revoked token of a subject (logout everywhere, suspension).
    func revokeRefreshTokens(subjectId: String, at: Date) async throws

    // Revoked access tokens (JWT ids), kept until the token would have expired anyway
    /// Revoking an id twice keeps the later expiry.
    func revokeAccessToken(jti: String, expiresAt: Date) async throws
    func isAccessTokenRevoked(jti: String) async throws -> Bool
    /// Removes revocations of tokens that have expired by `now` (`expiresAt <= now`); returns how many.
    func pruneRevokedAccessTokens(before now: Date) async throws -> Int

    /// Removes refresh tokens that expired by `now` (used and revoked ones are kept until then, so
    /// that a replay can still be recognised); returns how many.
    func pruneRefreshTokens(before now: Date) async throws -> Int

    /// Succeeds when the store can be used now; a cheap check for readiness probes.
    func ping() async throws
}
