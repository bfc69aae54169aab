import Foundation
import PostgresNIO

/// The identity store in PostgreSQL, shared by every replica. It behaves as `SQLiteIdentityRepository`
/// does, error for error.
///
/// Every method is one statement, atomic on its own under concurrent replicas: `UPDATE … WHERE …
/// RETURNING` for the compare-and-set of single use and revocation (a concurrent second update waits
/// for the first and then finds its condition false), `INSERT … ON CONFLICT` for access-token
/// revocation, a cascading foreign key for the keys of a deleted agent and triggers for the refresh
/// tokens of a deleted user or agent. Text that is ordered is in the "C" collation: byte order, as in
/// SQLite, whatever the database's locale.
public final class PostgresIdentityRepository: IdentityRepository {
    let store: PostgresStore

    public init(store: PostgresStore) {
        self.store = store
    }

    static let migration = PostgresMigration(
        version: 1, name: "identity",
        statements: [
            """
            CREATE TABLE users (
                id TEXT COLLATE "C" NOT NULL CONSTRAINT users_pkey PRIMARY KEY,
                username TEXT COLLATE "C" NOT NULL CONSTRAINT users_username_key UNIQUE,
                password_hash TEXT NOT NULL,
                roles TEXT[] NOT NULL,
                status TEXT NOT NULL,
                totp_secret TEXT,
                totp_enabled BOOLEAN NOT NULL,
                recovery_code_hashes TEXT[] NOT NULL,
                failed_attempts BIGINT NOT NULL,
                locked_until TIMESTAMPTZ,
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL
            )
            """,
            """
            CREATE TABLE agents (
                id TEXT COLLATE "C" NOT NULL CONSTRAINT agents_pkey PRIMARY KEY,
                name TEXT COLLATE "C" NOT NULL,
                owner TEXT NOT NULL,
                status TEXT NOT NULL,
                roles TEXT[] NOT NULL,
                scopes TEXT[] NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL
            )
            """,
            "CREATE INDEX agents_name ON agents (name, id)",
            """
            CREATE TABLE api_keys (
                id TEXT COLLATE "C" NOT NULL CONSTRAINT api_keys_pkey PRIMARY KEY,
                agent_id TEXT COLLATE "C" NOT NULL CONSTRAINT api_keys_agent_fkey REFERENCES agents (id) ON DELETE CASCADE,
                prefix TEXT NOT NULL,
                hash TEXT NOT NULL CONSTRAINT api_keys_hash_key UNIQUE,
                created_at TIMESTAMPTZ NOT NULL,
                expires_at TIMESTAMPTZ,
                revoked_at TIMESTAMPTZ
            )
            """,
            "CREATE INDEX api_keys_agent ON api_keys (agent_id, created_at, id)",
            """
            CREATE TABLE refresh_tokens (
                id TEXT NOT NULL CONSTRAINT refresh_tokens_pkey PRIMARY KEY,
                family_id TEXT NOT NULL,
                subject_id TEXT NOT NULL,
                subject_kind TEXT NOT NULL,
                hash TEXT NOT NULL CONSTRAINT refresh_tokens_hash_key UNIQUE,
                created_at TIMESTAMPTZ NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL,
                used_at TIMESTAMPTZ,
                revoked_at TIMESTAMPTZ
            )
            """,
            "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)",
            "CREATE INDEX refresh_tokens_subject ON refresh_tokens (subject_id)",
            "CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at)",
            // A deleted identity's refresh tokens go with it, in the same statement as the delete.
            """
            CREATE FUNCTION delete_refresh_tokens_of_deleted_subject() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                DELETE FROM refresh_tokens WHERE subject_kind = TG_ARGV[0] AND subject_id = OLD.id;
                RETURN NULL;
            END
            $$
            """,
            """
            CREATE TRIGGER users_delete_refresh_tokens AFTER DELETE ON users
            FOR EACH ROW EXECUTE FUNCTION delete_refresh_tokens_of_deleted_subject('user')
            """,
            """
            CREATE TRIGGER agents_delete_refresh_tokens AFTER DELETE ON agents
            FOR EACH ROW EXECUTE FUNCTION delete_refresh_tokens_of_deleted_subject('agent')
            """,
            """
            CREATE TABLE revoked_access_tokens (
                jti TEXT NOT NULL PRIMARY KEY,
                expires_at TIMESTAMPTZ NOT NULL
            )
            """,
            "CREATE INDEX revoked_access_tokens_expiry ON revoked_access_tokens (expires_at)",
        ])

    // MARK: People

    public func createUser(_ user: UserRecord) async throws {
        try await write(
            Self.users, otherUniqueValue: user.username,
            """
            INSERT INTO users (id, username, password_hash, roles, status, totp_secret, totp_enabled, recovery_code_hashes,
                failed_attempts, locked_until, created_at, updated_at)
            VALUES (\(user.id), \(user.username), \(user.passwordHash), \(user.roles.map(\.rawValue)), \(user.status.rawValue),
                \(user.totpSecret), \(user.totpEnabled), \(user.recoveryCodeHashes), \(user.failedAttempts), \(timestamp: user.lockedUntil),
                \(timestamp: user.createdAt), \(timestamp: user.updatedAt))
            """)
    }

    public func user(id: String) async throws -> UserRecord? {
        try await store.query("SELECT * FROM users WHERE id = \(id)").first.map(Self.decodeUser)
    }

    public func user(username: String) async throws -> UserRecord? {
        try await store.query("SELECT * FROM users WHERE username = \(username)").first.map(Self.decodeUser)
    }

    public func updateUserAccess(id: String, status: IdentityStatus?, roles: [Role]?, at: Date) async throws -> UserRecord? {
        let status = status?.rawValue
        return try await store.query(
            """
            UPDATE users SET status = COALESCE(\(status), status), roles = COALESCE(\(roles?.map(\.rawValue)), roles),
                failed_attempts = CASE WHEN \(status) = 'active' THEN 0 ELSE failed_attempts END,
                locked_until = CASE WHEN \(status) = 'active' THEN NULL ELSE locked_until END, updated_at = \(timestamp: at)
            WHERE id = \(id) RETURNING *
            """
        ).first.map(Self.decodeUser)
    }

    public func setPasswordHash(userId: String, hash: String, at: Date) async throws -> Bool {
        try await !store.query("UPDATE users SET password_hash = \(hash), updated_at = \(timestamp: at) WHERE id = \(userId) RETURNING id").isEmpty
    }

    public func beginTOTPEnrolment(userId: String, secret: String, recoveryCodeHashes: [String], at: Date) async throws -> Bool {
        try await !store.query(
            """
            UPDATE users SET totp_secret = \(secret), totp_enabled = FALSE, recovery_code_hashes = \(recoveryCodeHashes), updated_at = \(timestamp: at)
            WHERE id = \(userId) RETURNING id
            """
        ).isEmpty
    }

    public func confirmTOTPEnrolment(userId: String, secret: String, at: Date) async throws -> Bool {
        try await !store.query(
            "UPDATE users SET totp_enabled = TRUE, updated_at = \(timestamp: at) WHERE id = \(userId) AND totp_secret = \(secret) RETURNING id"
        ).isEmpty
    }

    public func beginLoginAttempt(userId: String, at: Date, maxFailures: Int, lockUntil: Date) async throws -> LoginAdmission {
        // One statement: every expression reads the row as it was; a concurrent attempt waits on
        // the row lock and re-checks the lock against the committed row.
        let rows = try await store.query(
            """
            UPDATE users SET
                locked_until = CASE WHEN failed_attempts + 1 >= \(maxFailures) THEN \(timestamp: lockUntil) ELSE NULL END,
                failed_attempts = CASE WHEN failed_attempts + 1 >= \(maxFailures) THEN 0 ELSE failed_attempts + 1 END,
                updated_at = \(timestamp: at)
            WHERE id = \(userId) AND (locked_until IS NULL OR locked_until <= \(timestamp: at)) RETURNING locked_until IS NOT NULL
            """)
        guard let row = rows.first else { return .refused }
        return try row.decode(Bool.self) ? .admittedAndLocked : .admitted
    }

    public func clearLoginFailures(userId: String, at: Date) async throws {
        try await store.query("UPDATE users SET failed_attempts = 0, locked_until = NULL, updated_at = \(timestamp: at) WHERE id = \(userId)")
    }

    public func consumeRecoveryCode(userId: String, codeHash: String, at: Date) async throws -> Bool {
        let rows = try await store.query(
            """
            UPDATE users SET recovery_code_hashes = array_remove(recovery_code_hashes, \(codeHash)), updated_at = \(timestamp: at)
            WHERE id = \(userId) AND \(codeHash) = ANY(recovery_code_hashes) RETURNING id
            """)
        return !rows.isEmpty
    }

    public func deleteUser(id: String) async throws {
        let rows = try await store.query("DELETE FROM users WHERE id = \(id) RETURNING id")
        if rows.isEmpty { throw IdentityStoreError.notFound("user \(id)") }
    }

    public func listUsers() async throws -> [UserRecord] {
        try await store.query("SELECT * FROM users ORDER BY username").map(Self.decodeUser)
    }

    // MARK: Agents

    public func createAgent(_ agent: AgentRecord) async throws {
        try await write(
            Self.agents, otherUniqueValue: nil,
            """
            INSERT INTO agents (id, name, owner, status, roles, scopes, created_at, updated_at)
            VALUES (\(agent.id), \(agent.name), \(agent.owner), \(agent.status.rawValue), \(agent.roles.map(\.rawValue)), \(agent.scopes),
                \(timestamp: agent.createdAt), \(timestamp: agent.updatedAt))
            """)
    }

    public func agent(id: String) async throws -> AgentRecord? {
        try await store.query("SELECT * FROM agents WHERE id = \(id)").first.map(Self.decodeAgent)
    }

    public func updateAgentAccess(id: String, status: IdentityStatus?, roles: [Role]?, scopes: [String]?, at: Date) async throws -> AgentRecord? {
        try await store.query(
            """
            UPDATE agents SET status = COALESCE(\(status?.rawValue), status), roles = COALESCE(\(roles?.map(\.rawValue)), roles),
                scopes = COALESCE(\(scopes), scopes), updated_at = \(timestamp: at)
            WHERE id = \(id) RETURNING *
            """
        ).first.map(Self.decodeAgent)
    }

    public func deleteAgent(id: String) async throws {
        let rows = try await store.query("DELETE FROM agents WHERE id = \(id) RETURNING id")
        if rows.isEmpty { throw IdentityStoreError.notFound("agent \(id)") }
    }

    public func listAgents() async throws -> [AgentRecord] {
        try await store.query("SELECT * FROM agents ORDER BY name, id").map(Self.decodeAgent)
    }

    // MARK: API keys

    public func createAPIKey(_ key: APIKeyRecord) async throws {
        do {
            try await write(
                Self.apiKeys, otherUniqueValue: key.hash,
                """
                INSERT INTO api_keys (id, agent_id, prefix, hash, created_at, expires_at, revoked_at)
                VALUES (\(key.id), \(key.agentId), \(key.prefix), \(key.hash), \(timestamp: key.createdAt), \(timestamp: key.expiresAt),
                    \(timestamp: key.revokedAt))
                """)
        } catch let error where PostgresConstraintViolation(error)?.kind == .foreignKey {
            throw IdentityStoreError.notFound("agent \(key.agentId)")
        }
    }

    public func apiKey(hash: String) async throws -> APIKeyRecord? {
        try await store.query("SELECT * FROM api_keys WHERE hash = \(hash)").first.map(Self.decodeAPIKey)
    }

    public func apiKey(id: String) async throws -> APIKeyRecord? {
        try await store.query("SELECT * FROM api_keys WHERE id = \(id)").first.map(Self.decodeAPIKey)
    }

    public func apiKeys(agentId: String) async throws -> [APIKeyRecord] {
        try await store.query("SELECT * FROM api_keys WHERE agent_id = \(agentId) ORDER BY created_at, id").map(Self.decodeAPIKey)
    }

    public func revokeAPIKey(id: String, at: Date) async throws -> Bool {
        let rows = try await store.query(
            "UPDATE api_keys SET revoked_at = \(timestamp: at) WHERE id = \(id) AND revoked_at IS NULL RETURNING id")
        return !rows.isEmpty
    }

    // MARK: Refresh tokens

    public func createRefreshToken(_ token: RefreshTokenRecord) async throws {
        try await write(
            Self.refreshTokens, otherUniqueValue: token.hash,
            """
            INSERT INTO refresh_tokens (id, family_id, subject_id, subject_kind, hash, created_at, expires_at, used_at, revoked_at)
            VALUES (\(token.id), \(token.familyId), \(token.subjectId), \(token.subjectKind.rawValue), \(token.hash),
                \(timestamp: token.createdAt), \(timestamp: token.expiresAt), \(timestamp: token.usedAt), \(timestamp: token.revokedAt))
            """)
    }

    public func refreshToken(hash: String) async throws -> RefreshTokenRecord? {
        try await store.query("SELECT * FROM refresh_tokens WHERE hash = \(hash)").first.map(Self.decodeRefreshToken)
    }

    public func rotateRefreshToken(id: String, at: Date, successor: RefreshTokenRecord) async throws -> Bool {
        // One statement: a compare-and-set (a concurrent second use waits on the row lock, then
        // re-checks the condition against the committed row and finds `used_at` set), and the
        // successor, inserted only for the row it changed.
        let rows = try await write(
            Self.refreshTokens, otherUniqueValue: successor.hash,
            """
            WITH spent AS (
                UPDATE refresh_tokens SET used_at = \(timestamp: at) WHERE id = \(id) AND used_at IS NULL AND revoked_at IS NULL RETURNING id)
            INSERT INTO refresh_tokens (id, family_id, subject_id, subject_kind, hash, created_at, expires_at, used_at, revoked_at)
            SELECT \(successor.id), \(successor.familyId), \(successor.subjectId), \(successor.subjectKind.rawValue), \(successor.hash),
                \(timestamp: successor.createdAt), \(timestamp: successor.expiresAt), NULL, NULL FROM spent
            RETURNING id
            """)
        return !rows.isEmpty
    }

    public func revokeRefreshFamily(_ familyId: String, at: Date) async throws {
        try await store.query("UPDATE refresh_tokens SET revoked_at = \(timestamp: at) WHERE family_id = \(familyId) AND revoked_at IS NULL")
    }

    public func revokeRefreshTokens(subjectId: String, at: Date) async throws {
        try await store.query("UPDATE refresh_tokens SET revoked_at = \(timestamp: at) WHERE subject_id = \(subjectId) AND revoked_at IS NULL")
    }

    public func pruneRefreshTokens(before now: Date) async throws -> Int {
        try await store.query("DELETE FROM refresh_tokens WHERE expires_at <= \(timestamp: now) RETURNING 1").count
    }

    // MARK: Revoked access tokens

    public func revokeAccessToken(jti: String, expiresAt: Date) async throws {
        try await store.query(
            """
            INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (\(jti), \(timestamp: expiresAt))
            ON CONFLICT (jti) DO UPDATE SET expires_at = GREATEST(revoked_access_tokens.expires_at, excluded.expires_at)
            """)
    }

    public func isAccessTokenRevoked(jti: String) async throws -> Bool {
        !(try await store.query("SELECT 1 FROM revoked_access_tokens WHERE jti = \(jti)").isEmpty)
    }

    public func pruneRevokedAccessTokens(before now: Date) async throws -> Int {
        try await store.query("DELETE FROM revoked_access_tokens WHERE expires_at <= \(timestamp: now) RETURNING 1").count
    }

    public func ping() async throws {
        try await store.ping()
    }
}

// MARK: - Conflicts

extension PostgresIdentityRepository {
    /// A table's unique columns, named as `IdentityStoreError.conflict` reports them.
    struct UniqueColumns: Sendable {
        let table: String
        /// The unique column besides the id, and how to tell whether a value of it is taken.
        let other: (column: String, taken: @Sendable (String) -> PostgresQuery)?

        var primaryKeyConstraint: String { "\(table)_pkey" }
    }

    static let users = UniqueColumns(table: "users", other: ("username", { "SELECT 1 FROM users WHERE username = \($0)" }))
    static let agents = UniqueColumns(table: "agents", other: nil)
    static let apiKeys = UniqueColumns(table: "api_keys", other: ("hash", { "SELECT 1 FROM api_keys WHERE hash = \($0)" }))
    static let refreshTokens = UniqueColumns(table: "refresh_tokens", other: ("hash", { "SELECT 1 FROM refresh_tokens WHERE hash = \($0)" }))

    /// Runs a write, reporting a clash on a unique column as `conflict`. PostgreSQL names the first
    /// index it finds taken, the primary key's; when the other unique value is taken as well, that
    /// one is named, as SQLite (which checks it first) and the in-memory store do.
    @discardableResult
    func write(_ columns: UniqueColumns, otherUniqueValue: String?, _ query: PostgresQuery) async throws -> [PostgresRow] {
        do {
            return try await store.query(query)
        } catch let error {
            guard let violation = PostgresConstraintViolation(error), violation.kind == .unique else { throw error }
            guard let other = columns.other, let value = otherUniqueValue else { throw IdentityStoreError.conflict("\(columns.table).id") }
            if violation.constraint == columns.primaryKeyConstraint, try await store.query(other.taken(value)).isEmpty {
                throw IdentityStoreError.conflict("\(columns.table).id")
            }
            throw IdentityStoreError.conflict("\(columns.table).\(other.column)")
        }
    }
}

// MARK: - Rows

extension PostgresIdentityRepository {
    static func decodeUser(_ row: PostgresRow) throws -> UserRecord {
        let c = PostgresRowReader(row, table: "users")
        return UserRecord(
            id: try c.value("id"), username: try c.value("username"), passwordHash: try c.value("password_hash"),
            roles: try c.rawValues("roles"), status: try c.rawValue("status"), totpSecret: try c.value("totp_secret"),
            totpEnabled: try c.value("totp_enabled"), recoveryCodeHashes: try c.value("recovery_code_hashes"),
            failedAttempts: try c.value("failed_attempts"), lockedUntil: try c.optionalDate("locked_until"),
            createdAt: try c.date("created_at"), updatedAt: try c.date("updated_at"))
    }

    static func decodeAgent(_ row: PostgresRow) throws -> AgentRecord {
        let c = PostgresRowReader(row, table: "agents")
        return AgentRecord(
            id: try c.value("id"), name: try c.value("name"), owner: try c.value("owner"), status: try c.rawValue("status"),
            roles: try c.rawValues("roles"), scopes: try c.value("scopes"), createdAt: try c.date("created_at"),
            updatedAt: try c.date("updated_at"))
    }

    static func decodeAPIKey(_ row: PostgresRow) throws -> APIKeyRecord {
        let c = PostgresRowReader(row, table: "api_keys")
        return APIKeyRecord(
            id: try c.value("id"), agentId: try c.value("agent_id"), prefix: try c.value("prefix"), hash: try c.value("hash"),
            createdAt: try c.date("created_at"), expiresAt: try c.optionalDate("expires_at"), revokedAt: try c.optionalDate("revoked_at"))
    }

    static func decodeRefreshToken(_ row: PostgresRow) throws -> RefreshTokenRecord {
        let c = PostgresRowReader(row, table: "refresh_tokens")
        return RefreshTokenRecord(
            id: try c.value("id"), familyId: try c.value("family_id"), subjectId: try c.value("subject_id"),
            subjectKind: try c.rawValue("subject_kind"), hash: try c.value("hash"), createdAt: try c.date("created_at"),
            expiresAt: try c.date("expires_at"), usedAt: try c.optionalDate("used_at"), revokedAt: try c.optionalDate("revoked_at"))
    }
}
