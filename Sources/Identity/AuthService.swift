import Cache
import Foundation
import GovernanceCore
import HummingbirdBcrypt
import HummingbirdOTP
import Storage
import Synchronization

/// Authentication and identity management over the identity store, the token service and the
/// event sink. Shared by the Auth service's routes, the authentication middleware of every service
/// and the command line.
public final class AuthService: Sendable {
    public let repository: any IdentityRepository
    public let tokens: TokenService
    public let events: any AuthEventSink
    public let policy: AuthPolicy
    let constitutionalHash: @Sendable () -> String

    /// Validation results by SHA-256 of the presented credential, never kept past the credential's
    /// own expiry or the policy's ceiling.
    let validations: LRUCache<String, Principal>
    /// Revocations seen by this process, checked on every request, cache hit or not.
    let revoked = Mutex(Revocations())

    struct Revocations {
        var tokenIds: Set<String> = []
        var apiKeyIds: Set<String> = []
        /// Credentials of a subject issued before this instant are refused (suspension, role change,
        /// logout everywhere).
        var subjectsRevokedBefore: [String: Date] = [:]
    }

    /// What this replica shares with the others of its deployment (Redis); none on a single server.
    private let sharing = Mutex<(any ValidationSharing)?>(nil)

    /// A bcrypt hash of a random password, verified against when a username does not exist, so that
    /// the time of a failed login does not tell whether the username exists.
    let decoyHash: String

    public init(
        repository: any IdentityRepository, tokens: TokenService, events: any AuthEventSink, policy: AuthPolicy = AuthPolicy(),
        cacheCapacity: Int = 10_000, constitutionalHash: @escaping @Sendable () -> String
    ) {
        self.repository = repository
        self.tokens = tokens
        self.events = events
        self.policy = policy
        self.constitutionalHash = constitutionalHash
        self.validations = LRUCache(capacity: cacheCapacity, ttl: policy.validationCacheCeiling)
        self.decoyHash = Bcrypt.hash(Credentials.random(24), cost: policy.bcryptCost)
    }

    /// Shares validations and revocations with the other replicas of a deployment from now on.
    public func share(with sharing: any ValidationSharing) {
        self.sharing.withLock { $0 = sharing }
    }

    /// Forgets every validation this replica cached: another replica revoked something, and the next
    /// request of each credential is checked against the store again.
    public func dropCachedValidations() {
        validations.removeAll()
    }

    /// Tells the other replicas that a revocation was stored.
    func announceRevocation() async {
        await sharing.withLock { $0 }?.revoked()
    }

    // MARK: authenticating requests

    /// The principal behind a bearer credential (an access token or an agent's API key), and
    /// whether the answer came from the cache.
    public func authenticate(bearer credential: String, now: Date = Date()) async throws(AuthError) -> (Principal, cacheHit: Bool) {
        guard !credential.isEmpty, credential.utf8.count <= 8192 else { throw .invalidToken("malformed credential") }
        let key = Credentials.sha256(credential)
        if let cached = validations.get(key) {
            if let expiry = cached.expiresAt, expiry <= now {
                validations.remove(key)
            } else {
                try checkNotRevoked(cached)
                return (cached, true)
            }
        }
        let shared = sharing.withLock { $0 }
        if let shared, let principal = await shared.cachedPrincipal(credentialHash: key), principal.expiresAt.map({ $0 > now }) ?? true {
            try checkNotRevoked(principal)
            validations.set(key, principal)
            return (principal, true)
        }
        let principal: Principal
        if Credentials.looksLikeAPIKey(credential) {
            principal = try await authenticateAPIKey(hash: key, now: now)
        } else {
            principal = try await authenticateAccessToken(credential, now: now)
        }
        try checkNotRevoked(principal)
        validations.set(key, principal)
        shared?.share(principal, credentialHash: key)
        return (principal, false)
    }

    func checkNotRevoked(_ p: Principal) throws(AuthError) {
        let refused = revoked.withLock { r in
            if let jti = p.tokenId, r.tokenIds.contains(jti) { return true }
            if let keyId = p.apiKeyId, r.apiKeyIds.contains(keyId) { return true }
            if let cutoff = r.subjectsRevokedBefore[p.id] {
                guard let issued = p.issuedAt else { return true }
                return issued < cutoff
            }
            return false
        }
        if refused { throw .invalidToken("credential revoked") }
    }

    func authenticateAPIKey(hash: String, now: Date) async throws(AuthError) -> Principal {
        let key: APIKeyRecord?
        let agent: AgentRecord?
        do {
            key = try await repository.apiKey(hash: hash)
            agent = try await key.asyncMap { try await repository.agent(id: $0.agentId) } ?? nil
        } catch {
            throw .unavailable
        }
        guard let key, key.revokedAt == nil, key.expiresAt.map({ $0 > now }) ?? true, let agent, agent.status == .active else {
            throw .invalidToken("invalid API key")
        }
        var principal = Principal(
            id: agent.id, kind: .agent, name: agent.name, roles: Set(agent.roles), method: .apiKey, apiKeyId: key.id,
            issuedAt: now, expiresAt: key.expiresAt)
        // Re-checked against the store at least every validation-cache period.
        let ceiling = now.addingTimeInterval(policy.validationCacheCeiling.seconds)
        principal.expiresAt = min(key.expiresAt ?? ceiling, ceiling)
        return principal
    }

    func authenticateAccessToken(_ token: String, now: Date) async throws(AuthError) -> Principal {
        let claims: AccessClaims
        do {
            claims = try await tokens.verify(token, now: now)
        } catch {
            throw .invalidToken(Self.describe(error))
        }
        let active: Bool
        do {
            if try await repository.isAccessTokenRevoked(jti: claims.tokenId) { throw AuthError.invalidToken("credential revoked") }
            switch claims.kind {
            case SubjectKind.agent.rawValue: active = try await repository.agent(id: claims.subject)?.status == .active
            default: active = try await repository.user(id: claims.subject)?.status == .active
            }
        } catch let error as AuthError {
            throw error
        } catch {
            throw .unavailable
        }
        guard active else { throw .invalidToken("identity is not active") }
        return Principal(
            id: claims.subject, kind: claims.kind == SubjectKind.agent.rawValue ? .agent : .user, name: claims.name,
            roles: Set(claims.roles.compactMap(Role.init(rawValue:))), method: .accessToken, tokenId: claims.tokenId,
            issuedAt: claims.issuedAt, expiresAt: min(claims.expiresAt, now.addingTimeInterval(policy.validationCacheCeiling.seconds)))
    }

    static func describe(_ error: TokenError) -> String {
        switch error {
        case .malformed: "malformed token"
        case .tooLarge: "token too large"
        case .unsupportedAlgorithm: "unsupported signing algorithm"
        case .unknownKey: "unknown signing key"
        case .badSignature: "bad signature"
        case .expired: "token expired"
        case .notYetValid: "token not yet valid"
        case .wrongIssuer: "wrong issuer"
        case .wrongAudience: "wrong audience"
        }
    }

    // MARK: grants

    /// `grant_type=password`: a person's username, password and, once enrolled, a TOTP code or a
    /// recovery code. Every failure is the same `invalidCredentials` (or `mfaRequired` after a correct
    /// password), so nothing tells whether a username exists or is locked.
    public func passwordGrant(username: String, password: String, otp: String?, now: Date = Date()) async throws(AuthError) -> TokenGrant {
        guard let user = try await store({ try await repository.user(username: username) }) else {
            _ = Bcrypt.verify(password, hash: decoyHash)
            try await recordEvent(AuthEvent(.loginFailed, actor: nil, subject: nil, at: now, details: ["reason": "unknown_user"]))
            throw .invalidCredentials
        }
        // Counted before the password is checked, in one atomic step, so that guesses sent at once
        // are counted as they arrive: the fifth locks the account, and the rest are refused unchecked.
        let lockUntil = now.addingTimeInterval(policy.lockoutDuration.seconds)
        let admission = try await store {
            try await repository.beginLoginAttempt(userId: user.id, at: now, maxFailures: policy.maxFailedLogins, lockUntil: lockUntil)
        }
        guard admission != .refused else {
            _ = Bcrypt.verify(password, hash: decoyHash)
            try await recordEvent(AuthEvent(.loginFailed, actor: user.id, subject: user.id, at: now, details: ["reason": "locked"]))
            throw .invalidCredentials
        }
        let lockedNow = admission == .admittedAndLocked
        guard Bcrypt.verify(password, hash: user.passwordHash) else {
            if lockedNow { try await recordEvent(AuthEvent(.lockedOut, actor: user.id, subject: user.id, at: now)) }
            try await recordEvent(AuthEvent(.loginFailed, actor: user.id, subject: user.id, at: now, details: ["reason": lockedNow ? "locked_out" : "bad_password"]))
            throw .invalidCredentials
        }
        guard user.status == .active else {
            try await recordEvent(AuthEvent(.loginFailed, actor: user.id, subject: user.id, at: now, details: ["reason": "inactive"]))
            throw .invalidCredentials
        }
        // A right password without its second factor stays counted: it proves nothing yet.
        if user.totpEnabled, let secret = user.totpSecret {
            guard let otp, !otp.isEmpty else { throw .mfaRequired }
            if Self.totpMatches(otp, secret: secret, now: now) {
                // accepted
            } else if try await store({
                try await repository.consumeRecoveryCode(userId: user.id, codeHash: Credentials.sha256(otp.lowercased()), at: now)
            }) {
                // accepted; a recovery code works once
            } else {
                try await recordEvent(AuthEvent(.loginFailed, actor: user.id, subject: user.id, at: now, details: ["reason": "bad_otp"]))
                throw .invalidCredentials
            }
        }
        try await store { try await repository.clearLoginFailures(userId: user.id, at: now) }
        try await recordEvent(AuthEvent(.loginSucceeded, actor: user.id, subject: user.id, at: now))
        let refresh = newRefreshToken(subjectId: user.id, kind: .user, family: nil, now: now)
        try await store { try await repository.createRefreshToken(refresh.record) }
        return try await issue(subjectId: user.id, kind: .user, name: user.username, roles: user.roles, refreshToken: refresh.token, now: now)
    }

    /// `grant_type=api_key`: an agent exchanges its key for an access token.
    public func apiKeyGrant(key: String, now: Date = Date()) async throws(AuthError) -> TokenGrant {
        guard Credentials.looksLikeAPIKey(key) else { throw .invalidCredentials }
        let principal: Principal
        do {
            principal = try await authenticateAPIKey(hash: Credentials.sha256(key), now: now)
            try checkNotRevoked(principal)
        } catch {
            try await recordEvent(AuthEvent(.loginFailed, actor: nil, subject: nil, at: now, details: ["reason": "bad_api_key"]))
            throw .invalidCredentials
        }
        try await recordEvent(AuthEvent(.loginSucceeded, actor: principal.id, subject: principal.apiKeyId, at: now, details: ["method": "api_key"]))
        return try await issue(subjectId: principal.id, kind: .agent, name: principal.name, roles: Array(principal.roles), refreshToken: nil, now: now)
    }

    /// `grant_type=refresh_token`: single use. A spent token presented again means it was stolen
    /// (or replayed): the whole family is revoked, the legitimate holder's current token included.
    public func refreshGrant(_ token: String, now: Date = Date()) async throws(AuthError) -> TokenGrant {
        guard let record = try await store({ try await repository.refreshToken(hash: Credentials.sha256(token)) }),
            record.revokedAt == nil, record.expiresAt > now
        else { throw .invalidToken("invalid refresh token") }
        // The successor is stored in the same step that spends the token: a concurrent use of the
        // same token, which fails and revokes the family, then revokes the successor too.
        let successor = newRefreshToken(subjectId: record.subjectId, kind: record.subjectKind, family: record.familyId, now: now)
        var rotated = false
        if record.usedAt == nil {
            rotated = try await store { try await repository.rotateRefreshToken(id: record.id, at: now, successor: successor.record) }
        }
        guard rotated else {
            try await store { try await repository.revokeRefreshFamily(record.familyId, at: now) }
            try await recordEvent(AuthEvent(.refreshReuseDetected, actor: record.subjectId, subject: record.familyId, at: now))
            throw .invalidToken("invalid refresh token")
        }
        let identity: (name: String, roles: [Role])?
        switch record.subjectKind {
        case .user:
            let user = try await store { try await repository.user(id: record.subjectId) }
            identity = user.flatMap { $0.status == .active ? ($0.username, $0.roles) : nil }
        case .agent:
            let agent = try await store { try await repository.agent(id: record.subjectId) }
            identity = agent.flatMap { $0.status == .active ? ($0.name, $0.roles) : nil }
        }
        guard let (name, roles) = identity else {
            try await store { try await repository.revokeRefreshFamily(record.familyId, at: now) }
            throw .invalidToken("identity is not active")
        }
        try await recordEvent(AuthEvent(.tokenRefreshed, actor: record.subjectId, subject: record.familyId, at: now))
        return try await issue(subjectId: record.subjectId, kind: record.subjectKind, name: name, roles: roles, refreshToken: successor.token, now: now)
    }

    /// A new refresh token in `family` (a new family when nil): the token to hand out once, and
    /// its record, which keeps only the token's digest.
    func newRefreshToken(subjectId: String, kind: SubjectKind, family: String?, now: Date) -> (token: String, record: RefreshTokenRecord) {
        let token = Credentials.newRefreshToken()
        let record = RefreshTokenRecord(
            id: Credentials.newId("rtk"), familyId: family ?? Credentials.newId("fam"), subjectId: subjectId, subjectKind: kind,
            hash: Credentials.sha256(token), createdAt: now, expiresAt: now.addingTimeInterval(policy.refreshTokenLifetime.seconds))
        return (token, record)
    }

    /// Signs an access token and grants it, with the refresh token already stored for it, if any.
    func issue(
        subjectId: String, kind: SubjectKind, name: String, roles: [Role], refreshToken refresh: String?, now: Date
    ) async throws(AuthError) -> TokenGrant {
        let issued: (token: String, claims: AccessClaims)
        do {
            issued = try await tokens.issue(
                subject: subjectId, kind: kind.rawValue, name: name, roles: roles.map(\.rawValue), constitutionalHash: constitutionalHash(), now: now)
        } catch {
            throw .invalidRequest("could not sign a token")
        }
        try await recordEvent(AuthEvent(.tokenIssued, actor: subjectId, subject: issued.claims.tokenId, at: now))
        let principal = Principal(
            id: subjectId, kind: kind, name: name, roles: Set(roles), method: .accessToken, tokenId: issued.claims.tokenId,
            issuedAt: issued.claims.issuedAt, expiresAt: issued.claims.expiresAt)
        return TokenGrant(accessToken: issued.token, expiresIn: Int(policy.accessTokenLifetime.seconds), refreshToken: refresh, principal: principal)
    }

    static func totpMatches(_ code: String, secret: String, now: Date) -> Bool {
        guard code.count == 6, let value = Int(code) else { return false }
        let totp = TOTP(secret: secret)
        // One step of clock drift either way, as RFC 6238 section 5.2 allows.
        return [-30.0, 0, 30].contains { totp.compute(date: now.addingTimeInterval($0)) == value }
    }

    // MARK: revocation

    /// RFC 7009: revokes an access token (until it would expire), a refresh token (its family) or
    /// an API key presented by its owner. Unknown tokens are not an error.
    public func revoke(_ token: String, by actor: Principal?, now: Date = Date()) async throws(AuthError) {
        let digest = Credentials.sha256(token)
        validations.remove(digest)
        if let record = try await store({ try await repository.refreshToken(hash: digest) }) {
            try await store { try await repository.revokeRefreshFamily(record.familyId, at: now) }
            try await recordEvent(AuthEvent(.tokenRevoked, actor: actor?.id, subject: record.familyId, at: now, details: ["type": "refresh_token"]))
            return
        }
        if let claims = try? await tokens.verify(token, now: now) {
            revoked.withLock { _ = $0.tokenIds.insert(claims.tokenId) }
            try await store { try await repository.revokeAccessToken(jti: claims.tokenId, expiresAt: claims.expiresAt) }
            await announceRevocation()
            try await recordEvent(AuthEvent(.tokenRevoked, actor: actor?.id, subject: claims.tokenId, at: now, details: ["type": "access_token"]))
        }
    }

    /// Ends the caller's session: its access token is revoked and, for people, every refresh token.
    public func logout(_ principal: Principal, now: Date = Date()) async throws(AuthError) {
        if let jti = principal.tokenId, let expiry = principal.expiresAt {
            revoked.withLock { _ = $0.tokenIds.insert(jti) }
            try await store { try await repository.revokeAccessToken(jti: jti, expiresAt: max(expiry, now)) }
            await announceRevocation()
        }
        try await store { try await repository.revokeRefreshTokens(subjectId: principal.id, at: now) }
        try await recordEvent(AuthEvent(.logout, actor: principal.id, subject: principal.tokenId, at: now))
    }

    /// Refuses every credential of a subject issued until now (suspension, role change).
    func revokeSubject(_ id: String, now: Date) async {
        // Token issue times have whole seconds: cut at the second, so that a token issued right
        // after the change, in the same second, is not refused with the old ones.
        let cutoff = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        revoked.withLock { $0.subjectsRevokedBefore[id] = cutoff }
        validations.removeAll()
        await announceRevocation()
    }

    /// Runs a store operation, turning its failures into a refusal rather than a crash or a leak.
    func store<T>(_ body: () async throws -> T) async throws(AuthError) -> T {
        do {
            return try await body()
        } catch let error as AuthError {
            throw error
        } catch IdentityStoreError.conflict(let what) {
            throw .conflict(what)
        } catch IdentityStoreError.notFound(let what) {
            throw .notFound(what)
        } catch {
            throw .unavailable
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}

/// What the replicas of a deployment share about authentication (Redis, in the Server module): an L2
/// cache of validation results under the L1, and the news that something was revoked.
public protocol ValidationSharing: Sendable {
    /// A validation another replica (or this one, before a restart) cached; nil on a miss or when
    /// the shared cache cannot be reached.
    func cachedPrincipal(credentialHash: String) async -> Principal?
    /// Caches a validation for the others, without making the caller wait.
    func share(_ principal: Principal, credentialHash: String)
    /// A revocation was stored: every replica must stop trusting what it cached.
    func revoked() async
}
