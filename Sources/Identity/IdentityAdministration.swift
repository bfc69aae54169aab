import GovernanceCore
import Foundation
import HummingbirdBcrypt
import HummingbirdOTP
import Storage

/// Creating and changing identities and credentials. Every change is an auth event; a change that
/// takes rights away (suspension, role change, deletion) refuses the identity's existing
/// credentials at once.
extension AuthService {
    // MARK: agents

    public func createAgent(name: String, owner: String, roles: [Role] = [.agent], scopes: [String] = [], by actor: String?, now: Date = Date()) async throws(AuthError) -> AgentRecord {
        guard !name.trimmingWhitespace.isEmpty else { throw .invalidRequest("an agent needs a name") }
        let agent = AgentRecord(id: Credentials.newId("agt"), name: name, owner: owner, roles: roles, scopes: scopes, createdAt: now, updatedAt: now)
        try await store { try await repository.createAgent(agent) }
        try await recordEvent(AuthEvent(.identityCreated, actor: actor, subject: agent.id, at: now, details: ["kind": "agent", "roles": roles.map(\.rawValue).joined(separator: ",")]))
        return agent
    }

    public func updateAgent(id: String, status: IdentityStatus?, roles: [Role]?, scopes: [String]?, by actor: String?, now: Date = Date()) async throws(AuthError) -> AgentRecord {
        guard let before = try await store({ try await repository.agent(id: id) }),
            let agent = try await store({ try await repository.updateAgentAccess(id: id, status: status, roles: roles, scopes: scopes, at: now) })
        else { throw .notFound("agent \(id)") }
        try await recordChanges(before.status, agent.status, before.roles, agent.roles, subject: id, actor: actor, now: now)
        return agent
    }

    public func deleteAgent(id: String, by actor: String?, now: Date = Date()) async throws(AuthError) {
        guard try await store({ try await repository.agent(id: id) }) != nil else { throw .notFound("agent \(id)") }
        try await store { try await repository.deleteAgent(id: id) }
        await revokeSubject(id, now: now)
        try await recordEvent(AuthEvent(.identityDeleted, actor: actor, subject: id, at: now, details: ["kind": "agent"]))
    }

    /// A new API key for an agent, returned once; only its hash and prefix are kept.
    public func createAPIKey(agentId: String, expiresAt: Date?, by actor: String?, now: Date = Date()) async throws(AuthError) -> (key: String, record: APIKeyRecord) {
        guard try await store({ try await repository.agent(id: agentId) }) != nil else { throw .notFound("agent \(agentId)") }
        if let expiresAt, expiresAt <= now { throw .invalidRequest("expires_at must be in the future") }
        let (key, prefix) = Credentials.newAPIKey()
        let record = APIKeyRecord(id: Credentials.newId("key"), agentId: agentId, prefix: prefix, hash: Credentials.sha256(key), createdAt: now, expiresAt: expiresAt)
        try await store { try await repository.createAPIKey(record) }
        try await recordEvent(AuthEvent(.apiKeyCreated, actor: actor, subject: record.id, at: now, details: ["agent": agentId, "prefix": prefix]))
        return (key, record)
    }

    public func revokeAPIKey(id: String, by actor: String?, now: Date = Date()) async throws(AuthError) {
        guard try await store({ try await repository.revokeAPIKey(id: id, at: now) }) else { throw .notFound("API key \(id)") }
        revoked.withLock { _ = $0.apiKeyIds.insert(id) }
        await announceRevocation()
        try await recordEvent(AuthEvent(.apiKeyRevoked, actor: actor, subject: id, at: now))
    }

    // MARK: people

    public func createUser(username: String, password: String, roles: [Role], by actor: String?, now: Date = Date()) async throws(AuthError) -> UserRecord {
        let name = username.trimmingWhitespace
        guard !name.isEmpty, name.count <= 64, String(name) == username else { throw .invalidRequest("a username is 1 to 64 characters without surrounding spaces") }
        try checkPassword(password)
        let user = UserRecord(
            id: Credentials.newId("usr"), username: username, passwordHash: Bcrypt.hash(password, cost: policy.bcryptCost), roles: roles,
            createdAt: now, updatedAt: now)
        try await store { try await repository.createUser(user) }
        try await recordEvent(AuthEvent(.identityCreated, actor: actor, subject: user.id, at: now, details: ["kind": "user", "roles": roles.map(\.rawValue).joined(separator: ",")]))
        return user
    }

    public func updateUser(id: String, status: IdentityStatus?, roles: [Role]?, by actor: String?, now: Date = Date()) async throws(AuthError) -> UserRecord {
        guard let before = try await store({ try await repository.user(id: id) }),
            let user = try await store({ try await repository.updateUserAccess(id: id, status: status, roles: roles, at: now) })
        else { throw .notFound("user \(id)") }
        try await recordChanges(before.status, user.status, before.roles, user.roles, subject: id, actor: actor, now: now)
        return user
    }

    public func deleteUser(id: String, by actor: String?, now: Date = Date()) async throws(AuthError) {
        guard try await store({ try await repository.user(id: id) }) != nil else { throw .notFound("user \(id)") }
        try await store { try await repository.deleteUser(id: id) }
        await revokeSubject(id, now: now)
        try await recordEvent(AuthEvent(.identityDeleted, actor: actor, subject: id, at: now, details: ["kind": "user"]))
    }

    /// Changes a password. Callers changing their own password give the current one; an admin
    /// resetting someone else's does not. Existing sessions end either way.
    public func changePassword(userId: String, current: String?, new: String, by actor: String?, now: Date = Date()) async throws(AuthError) {
        guard let user = try await store({ try await repository.user(id: userId) }) else { throw .notFound("user \(userId)") }
        if let current, !Bcrypt.verify(current, hash: user.passwordHash) { throw .invalidCredentials }
        try checkPassword(new)
        let hash = Bcrypt.hash(new, cost: policy.bcryptCost)
        guard try await store({ try await repository.setPasswordHash(userId: userId, hash: hash, at: now) }) else { throw .notFound("user \(userId)") }
        try await store { try await repository.revokeRefreshTokens(subjectId: userId, at: now) }
        await revokeSubject(userId, now: now)
        try await recordEvent(AuthEvent(.passwordChanged, actor: actor, subject: userId, at: now))
    }

    func checkPassword(_ password: String) throws(AuthError) {
        guard password.count >= policy.minimumPasswordLength else {
            throw .invalidRequest("a password has at least \(policy.minimumPasswordLength) characters")
        }
        guard password.utf8.count <= 72 else { throw .invalidRequest("a password has at most 72 bytes (bcrypt's limit)") }
    }

    /// Starts TOTP enrolment: a new secret (as an otpauth URI for an authenticator app) and new
    /// recovery codes, shown once. The second factor is required only after `confirmTOTP`.
    public func enrollTOTP(userId: String, now: Date = Date()) async throws(AuthError) -> (uri: String, recoveryCodes: [String]) {
        guard let user = try await store({ try await repository.user(id: userId) }) else { throw .notFound("user \(userId)") }
        let secret = Credentials.random(20)
        let codes = Credentials.newRecoveryCodes()
        guard try await store({ try await repository.beginTOTPEnrolment(userId: userId, secret: secret, recoveryCodeHashes: codes.map(Credentials.sha256), at: now) })
        else { throw .notFound("user \(userId)") }
        try await recordEvent(AuthEvent(.mfaEnrolled, actor: userId, subject: userId, at: now))
        return (TOTP(secret: secret).createAuthenticatorURL(label: user.username, issuer: "ACGS-2"), codes)
    }

    public func confirmTOTP(userId: String, code: String, now: Date = Date()) async throws(AuthError) {
        guard let user = try await store({ try await repository.user(id: userId) }), let secret = user.totpSecret else {
            throw .invalidRequest("no TOTP enrolment is pending")
        }
        guard Self.totpMatches(code, secret: secret, now: now) else { throw .invalidCredentials }
        // Confirms the secret the code was checked against: a newer enrolment meanwhile wins.
        guard try await store({ try await repository.confirmTOTPEnrolment(userId: userId, secret: secret, at: now) }) else {
            throw .invalidRequest("no TOTP enrolment is pending")
        }
        try await recordEvent(AuthEvent(.mfaConfirmed, actor: userId, subject: userId, at: now))
    }

    /// First start: when no active admin exists, creates `admin` with the given password, or with a
    /// generated one that is returned (to be printed once). Returns nil when an admin exists.
    public func ensureAdmin(password: String?, now: Date = Date()) async throws(AuthError) -> (username: String, generatedPassword: String?)? {
        let users = try await store { try await repository.listUsers() }
        if users.contains(where: { $0.roles.contains(.admin) && $0.status == .active }) { return nil }
        let generated = password == nil ? Credentials.random(24) : nil
        var username = "admin"
        if users.contains(where: { $0.username == username }) { username = "admin-" + Credentials.random(4).lowercased() }
        do {
            _ = try await createUser(username: username, password: password ?? generated ?? "", roles: [.admin], by: "system", now: now)
        } catch .conflict(let what) {
            // Replicas starting together on one database: another one created the admin first.
            let now = try await store { try await repository.listUsers() }
            if now.contains(where: { $0.roles.contains(.admin) && $0.status == .active }) { return nil }
            throw .conflict(what)
        }
        return (username, generated)
    }

    func recordChanges(_ oldStatus: IdentityStatus, _ newStatus: IdentityStatus, _ oldRoles: [Role], _ newRoles: [Role], subject: String, actor: String?, now: Date) async throws(AuthError) {
        if oldStatus != newStatus {
            if newStatus != .active { await revokeSubject(subject, now: now) }
            try await recordEvent(AuthEvent(.statusChanged, actor: actor, subject: subject, at: now, details: ["from": oldStatus.rawValue, "to": newStatus.rawValue]))
        }
        if Set(oldRoles) != Set(newRoles) {
            await revokeSubject(subject, now: now)
            try await recordEvent(AuthEvent(.roleChanged, actor: actor, subject: subject, at: now, details: ["roles": newRoles.map(\.rawValue).joined(separator: ",")]))
        }
    }
}
