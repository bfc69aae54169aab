import Foundation
import Logging
import NIOPosix
import SQLiteNIO

/// The identity store in the embedded database. It may share the file of the decision store
/// (`acgs.sqlite`) through a connection of its own: its tables and its migration log
/// (`identity_schema_migrations`) are distinct from the decision store's.
///
/// Every method is one SQL statement. The connection is shared by concurrent callers and SQLite
/// does not isolate statements of one connection from each other, so a multi-statement
/// transaction could interleave with another caller's; single statements are atomic on their own.
/// What must happen together is therefore done inside one statement: `UPDATE … RETURNING` for the
/// compare-and-set of single use and revocation, a cascading foreign key for the keys of a deleted
/// agent, triggers for the refresh tokens of a deleted user or agent.
public final class SQLiteIdentityRepository: IdentityRepository {
    let connection: SQLiteStoreConnection

    /// Versioned migrations, applied in order and recorded in `identity_schema_migrations`.
    static let migrations: [(version: Int, sql: [String])] = [
        (
            1,
            [
                """
                CREATE TABLE users (
                    id TEXT NOT NULL PRIMARY KEY,
                    username TEXT NOT NULL UNIQUE,
                    password_hash TEXT NOT NULL,
                    roles TEXT NOT NULL,
                    status TEXT NOT NULL,
                    totp_secret TEXT,
                    totp_enabled INTEGER NOT NULL,
                    recovery_code_hashes TEXT NOT NULL,
                    failed_attempts INTEGER NOT NULL,
                    locked_until REAL,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL
                )
                """,
                """
                CREATE TABLE agents (
                    id TEXT NOT NULL PRIMARY KEY,
                    name TEXT NOT NULL,
                    owner TEXT NOT NULL,
                    status TEXT NOT NULL,
                    roles TEXT NOT NULL,
                    scopes TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL
                )
                """,
                """
                CREATE TABLE api_keys (
                    id TEXT NOT NULL PRIMARY KEY,
                    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
                    prefix TEXT NOT NULL,
                    hash TEXT NOT NULL UNIQUE,
                    created_at REAL NOT NULL,
                    expires_at REAL,
                    revoked_at REAL
                )
                """,
                "CREATE INDEX api_keys_agent ON api_keys (agent_id)",
                """
                CREATE TABLE refresh_tokens (
                    id TEXT NOT NULL PRIMARY KEY,
                    family_id TEXT NOT NULL,
                    subject_id TEXT NOT NULL,
                    subject_kind TEXT NOT NULL,
                    hash TEXT NOT NULL UNIQUE,
                    created_at REAL NOT NULL,
                    expires_at REAL NOT NULL,
                    used_at REAL,
                    revoked_at REAL
                )
                """,
                "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)",
                "CREATE INDEX refresh_tokens_subject ON refresh_tokens (subject_id)",
                // A deleted identity's refresh tokens go with it, in the same statement as the delete.
                """
                CREATE TRIGGER users_delete_refresh_tokens AFTER DELETE ON users BEGIN
                    DELETE FROM refresh_tokens WHERE subject_kind = 'user' AND subject_id = OLD.id;
                END
                """,
                """
                CREATE TRIGGER agents_delete_refresh_tokens AFTER DELETE ON agents BEGIN
                    DELETE FROM refresh_tokens WHERE subject_kind = 'agent' AND subject_id = OLD.id;
                END
                """,
                """
                CREATE TABLE revoked_access_tokens (
                    jti TEXT NOT NULL PRIMARY KEY,
                    expires_at REAL NOT NULL
                )
                """,
                "CREATE INDEX revoked_access_tokens_expiry ON revoked_access_tokens (expires_at)",
            ]
        )
    ]

    private init(connection: SQLiteStoreConnection) {
        self.connection = connection
    }

    /// Opens (creating if needed) the database at `path` and brings the identity schema up to date.
    public static func open(path: String, logger: Logger = Logger(label: "acgs.storage.identity")) async throws -> SQLiteIdentityRepository {
        // Writes, and so the cascade from agents to their keys, run on the file's writer, which turns
        // foreign keys on.
        let connection = try await SQLiteDatabase.openOnOwnThread(path: path, logger: logger) { connection in
            try await SQLiteDatabase.migrate(connection, table: "identity_schema_migrations", migrations)
        }
        return SQLiteIdentityRepository(connection: connection)
    }

    public func close() async throws {
        try await connection.close()
    }

    // MARK: People

    public func createUser(_ user: UserRecord) async throws {
        try await write(Self.users) {
            _ = try await connection.query(
                """
                INSERT INTO users (id, username, password_hash, roles, status, totp_secret, totp_enabled, recovery_code_hashes,
                    failed_attempts, locked_until, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [.text(user.id)] + (try Self.userColumns(user)))
        }
    }

    public func user(id: String) async throws -> UserRecord? {
        try await connection.query("SELECT * FROM users WHERE id = ?", [.text(id)]).first.map(Self.decodeUser)
    }

    public func user(username: String) async throws -> UserRecord? {
        try await connection.query("SELECT * FROM users WHERE username = ?", [.text(username)]).first.map(Self.decodeUser)
    }

    public func updateUserAccess(id: String, status: IdentityStatus?, roles: [Role]?, at: Date) async throws -> UserRecord? {
        let status: SQLiteData = status.map { .text($0.rawValue) } ?? .null
        let rows = try await connection.query(
            """
            UPDATE users SET status = COALESCE(?, status), roles = COALESCE(?, roles),
                failed_attempts = CASE WHEN ? = 'active' THEN 0 ELSE failed_attempts END,
                locked_until = CASE WHEN ? = 'active' THEN NULL ELSE locked_until END, updated_at = ?
            WHERE id = ? RETURNING *
            """,
            [status, try roles.map(Self.json) ?? .null, status, status, Self.date(at), .text(id)])
        return try rows.first.map(Self.decodeUser)
    }

    public func setPasswordHash(userId: String, hash: String, at: Date) async throws -> Bool {
        try await !connection.query(
            "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? RETURNING id", [.text(hash), Self.date(at), .text(userId)]
        ).isEmpty
    }

    public func beginTOTPEnrolment(userId: String, secret: String, recoveryCodeHashes: [String], at: Date) async throws -> Bool {
        try await !connection.query(
            "UPDATE users SET totp_secret = ?, totp_enabled = 0, recovery_code_hashes = ?, updated_at = ? WHERE id = ? RETURNING id",
            [.text(secret), try Self.json(recoveryCodeHashes), Self.date(at), .text(userId)]
        ).isEmpty
    }

    public func confirmTOTPEnrolment(userId: String, secret: String, at: Date) async throws -> Bool {
        try await !connection.query(
            "UPDATE users SET totp_enabled = 1, updated_at = ? WHERE id = ? AND totp_secret = ? RETURNING id",
            [Self.date(at), .text(userId), .text(secret)]
        ).isEmpty
    }

    public func beginLoginAttempt(userId: String, at: Date, maxFailures: Int, lockUntil: Date) async throws -> LoginAdmission {
        // One statement: every expression reads the row as it was, and the writer runs one
        // statement at a time.
        let rows = try await connection.query(
            """
            UPDATE users SET
                locked_until = CASE WHEN failed_attempts + 1 >= ? THEN ? ELSE NULL END,
                failed_attempts = CASE WHEN failed_attempts + 1 >= ? THEN 0 ELSE failed_attempts + 1 END,
                updated_at = ?
            WHERE id = ? AND (locked_until IS NULL OR locked_until <= ?) RETURNING locked_until IS NOT NULL AS locks
            """,
            [.integer(maxFailures), Self.date(lockUntil), .integer(maxFailures), Self.date(at), .text(userId), Self.date(at)])
        guard let row = rows.first else { return .refused }
        return row.column("locks")?.integer == 1 ? .admittedAndLocked : .admitted
    }

    public func clearLoginFailures(userId: String, at: Date) async throws {
        _ = try await connection.query(
            "UPDATE users SET failed_attempts = 0, locked_until = NULL, updated_at = ? WHERE id = ?", [Self.date(at), .text(userId)])
    }

    public func consumeRecoveryCode(userId: String, codeHash: String, at: Date) async throws -> Bool {
        // Compare-and-set on the list: a concurrent use of any code makes this one read it again.
        while let user = try await user(id: userId), let index = user.recoveryCodeHashes.firstIndex(of: codeHash) {
            var remaining = user.recoveryCodeHashes
            remaining.remove(at: index)
            let rows = try await connection.query(
                "UPDATE users SET recovery_code_hashes = ?, updated_at = ? WHERE id = ? AND recovery_code_hashes = ? RETURNING id",
                [try Self.json(remaining), Self.date(at), .text(userId), try Self.json(user.recoveryCodeHashes)])
            if !rows.isEmpty { return true }
        }
        return false
    }

    public func deleteUser(id: String) async throws {
        let rows = try await connection.query("DELETE FROM users WHERE id = ? RETURNING id", [.text(id)])
        if rows.isEmpty { throw IdentityStoreError.notFound("user \(id)") }
    }

    public func listUsers() async throws -> [UserRecord] {
        try await connection.query("SELECT * FROM users ORDER BY username").map(Self.decodeUser)
    }

    // MARK: Agents

    public func createAgent(_ agent: AgentRecord) async throws {
        try await write(Self.agents) {
            _ = try await connection.query(
                "INSERT INTO agents (id, name, owner, status, roles, scopes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [.text(agent.id)] + (try Self.agentColumns(agent)))
        }
    }

    public func agent(id: String) async throws -> AgentRecord? {
        try await connection.query("SELECT * FROM agents WHERE id = ?", [.text(id)]).first.map(Self.decodeAgent)
    }

    public func updateAgentAccess(id: String, status: IdentityStatus?, roles: [Role]?, scopes: [String]?, at: Date) async throws -> AgentRecord? {
        let rows = try await connection.query(
            "UPDATE agents SET status = COALESCE(?, status), roles = COALESCE(?, roles), scopes = COALESCE(?, scopes), updated_at = ? WHERE id = ? RETURNING *",
            [status.map { .text($0.rawValue) } ?? .null, try roles.map(Self.json) ?? .null, try scopes.map(Self.json) ?? .null, Self.date(at), .text(id)])
        return try rows.first.map(Self.decodeAgent)
    }

    public func deleteAgent(id: String) async throws {
        let rows = try await connection.query("DELETE FROM agents WHERE id = ? RETURNING id", [.text(id)])
        if rows.isEmpty { throw IdentityStoreError.notFound("agent \(id)") }
    }

    public func listAgents() async throws -> [AgentRecord] {
        try await connection.query("SELECT * FROM agents ORDER BY name, id").map(Self.decodeAgent)
    }

    // MARK: API keys

    public func createAPIKey(_ key: APIKeyRecord) async throws {
        do {
            try await write(Self.apiKeys) {
                _ = try await connection.query(
                    "INSERT INTO api_keys (id, agent_id, prefix, hash, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        .text(key.id), .text(key.agentId), .text(key.prefix), .text(key.hash), Self.date(key.createdAt),
                        Self.date(key.expiresAt), Self.date(key.revokedAt),
                    ])
            }
        } catch let error as SQLiteWriteError where error.code == SQLiteWriteError.foreignKeyFailed {
            throw IdentityStoreError.notFound("agent \(key.agentId)")
        }
    }

    public func apiKey(hash: String) async throws -> APIKeyRecord? {
        try await connection.query("SELECT * FROM api_keys WHERE hash = ?", [.text(hash)]).first.map(Self.decodeAPIKey)
    }

    public func apiKey(id: String) async throws -> APIKeyRecord? {
        try await connection.query("SELECT * FROM api_keys WHERE id = ?", [.text(id)]).first.map(Self.decodeAPIKey)
    }

    public func apiKeys(agentId: String) async throws -> [APIKeyRecord] {
        try await connection.query("SELECT * FROM api_keys WHERE agent_id = ? ORDER BY created_at, id", [.text(agentId)])
            .map(Self.decodeAPIKey)
    }

    public func revokeAPIKey(id: String, at: Date) async throws -> Bool {
        let rows = try await connection.query(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING id", [Self.date(at), .text(id)])
        return !rows.isEmpty
    }

    // MARK: Refresh tokens

    public func createRefreshToken(_ token: RefreshTokenRecord) async throws {
        try await write(Self.refreshTokens) {
            _ = try await connection.query(
                """
                INSERT INTO refresh_tokens (id, family_id, subject_id, subject_kind, hash, created_at, expires_at, used_at, revoked_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(token.id), .text(token.familyId), .text(token.subjectId), .text(token.subjectKind.rawValue),
                    .text(token.hash), Self.date(token.createdAt), Self.date(token.expiresAt), Self.date(token.usedAt),
                    Self.date(token.revokedAt),
                ])
        }
    }

    public func refreshToken(hash: String) async throws -> RefreshTokenRecord? {
        try await connection.query("SELECT * FROM refresh_tokens WHERE hash = ?", [.text(hash)]).first.map(Self.decodeRefreshToken)
    }

    public func rotateRefreshToken(id: String, at: Date, successor: RefreshTokenRecord) async throws -> Bool {
        // One transaction: a compare-and-set (of two concurrent uses, only one finds `used_at`
        // empty), then the successor, inserted only if that statement changed the row.
        let rows = try await write(Self.refreshTokens) {
            try await connection.writer.write([
                ("UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL", [Self.date(at), .text(id)]),
                (
                    """
                    INSERT INTO refresh_tokens (id, family_id, subject_id, subject_kind, hash, created_at, expires_at, used_at, revoked_at)
                    SELECT ?, ?, ?, ?, ?, ?, ?, NULL, NULL WHERE changes() = 1 RETURNING id
                    """,
                    [
                        .text(successor.id), .text(successor.familyId), .text(successor.subjectId), .text(successor.subjectKind.rawValue),
                        .text(successor.hash), Self.date(successor.createdAt), Self.date(successor.expiresAt),
                    ]
                ),
            ])
        }
        return !rows.isEmpty
    }

    public func revokeRefreshFamily(_ familyId: String, at: Date) async throws {
        _ = try await connection.query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL", [Self.date(at), .text(familyId)])
    }

    public func revokeRefreshTokens(subjectId: String, at: Date) async throws {
        _ = try await connection.query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE subject_id = ? AND revoked_at IS NULL", [Self.date(at), .text(subjectId)])
    }

    // MARK: Revoked access tokens

    public func revokeAccessToken(jti: String, expiresAt: Date) async throws {
        _ = try await connection.query(
            """
            INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (?, ?)
            ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)
            """,
            [.text(jti), Self.date(expiresAt)])
    }

    public func isAccessTokenRevoked(jti: String) async throws -> Bool {
        let rows = try await connection.query("SELECT 1 FROM revoked_access_tokens WHERE jti = ?", [.text(jti)])
        return !rows.isEmpty
    }

    public func pruneRefreshTokens(before now: Date) async throws -> Int {
        try await connection.query("DELETE FROM refresh_tokens WHERE expires_at <= ? RETURNING 1", [Self.date(now)]).count
    }

    public func ping() async throws {
        _ = try await connection.query("SELECT 1")
    }

    public func pruneRevokedAccessTokens(before now: Date) async throws -> Int {
        // RETURNING rather than `changes()`: another statement on the shared connection could run in between.
        try await connection.query("DELETE FROM revoked_access_tokens WHERE expires_at <= ? RETURNING 1", [Self.date(now)]).count
    }
}

// MARK: - Rows

extension SQLiteIdentityRepository {
    /// The unique columns of a table, named as `IdentityStoreError.conflict` reports them.
    struct UniqueColumns {
        let primaryKey: String
        let unique: String?
    }

    static let users = UniqueColumns(primaryKey: "users.id", unique: "users.username")
    static let agents = UniqueColumns(primaryKey: "agents.id", unique: nil)
    static let apiKeys = UniqueColumns(primaryKey: "api_keys.id", unique: "api_keys.hash")
    static let refreshTokens = UniqueColumns(primaryKey: "refresh_tokens.id", unique: "refresh_tokens.hash")

    /// Runs a write, reporting a clash on a unique column as `conflict`. The column is told by the
    /// result code, not by SQLite's message: the message is per connection and a concurrent
    /// statement may have replaced it by the time it is read.
    func write<T>(_ columns: UniqueColumns, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as SQLiteWriteError {
            switch error.code {
            case SQLiteWriteError.primaryKeyFailed: throw IdentityStoreError.conflict(columns.primaryKey)
            case SQLiteWriteError.uniqueFailed: throw IdentityStoreError.conflict(columns.unique ?? columns.primaryKey)
            default: throw error
            }
        }
    }

    static func userColumns(_ user: UserRecord) throws -> [SQLiteData] {
        [
            .text(user.username), .text(user.passwordHash), try json(user.roles), .text(user.status.rawValue),
            user.totpSecret.map { .text($0) } ?? .null, .integer(user.totpEnabled ? 1 : 0), try json(user.recoveryCodeHashes),
            .integer(user.failedAttempts), date(user.lockedUntil), date(user.createdAt), date(user.updatedAt),
        ]
    }

    static func agentColumns(_ agent: AgentRecord) throws -> [SQLiteData] {
        [
            .text(agent.name), .text(agent.owner), .text(agent.status.rawValue), try json(agent.roles), try json(agent.scopes),
            date(agent.createdAt), date(agent.updatedAt),
        ]
    }

    static func decodeUser(_ row: any SQLiteResultRow) throws -> UserRecord {
        let c = IdentityRow(row: row, table: "users")
        return UserRecord(
            id: try c.text("id"), username: try c.text("username"), passwordHash: try c.text("password_hash"),
            roles: try c.json("roles"), status: try c.value("status"), totpSecret: try c.optionalText("totp_secret"),
            totpEnabled: try c.integer("totp_enabled") != 0, recoveryCodeHashes: try c.json("recovery_code_hashes"),
            failedAttempts: try c.integer("failed_attempts"), lockedUntil: try c.optionalDate("locked_until"),
            createdAt: try c.date("created_at"), updatedAt: try c.date("updated_at"))
    }

    static func decodeAgent(_ row: any SQLiteResultRow) throws -> AgentRecord {
        let c = IdentityRow(row: row, table: "agents")
        return AgentRecord(
            id: try c.text("id"), name: try c.text("name"), owner: try c.text("owner"), status: try c.value("status"),
            roles: try c.json("roles"), scopes: try c.json("scopes"), createdAt: try c.date("created_at"),
            updatedAt: try c.date("updated_at"))
    }

    static func decodeAPIKey(_ row: any SQLiteResultRow) throws -> APIKeyRecord {
        let c = IdentityRow(row: row, table: "api_keys")
        return APIKeyRecord(
            id: try c.text("id"), agentId: try c.text("agent_id"), prefix: try c.text("prefix"), hash: try c.text("hash"),
            createdAt: try c.date("created_at"), expiresAt: try c.optionalDate("expires_at"),
            revokedAt: try c.optionalDate("revoked_at"))
    }

    static func decodeRefreshToken(_ row: any SQLiteResultRow) throws -> RefreshTokenRecord {
        let c = IdentityRow(row: row, table: "refresh_tokens")
        return RefreshTokenRecord(
            id: try c.text("id"), familyId: try c.text("family_id"), subjectId: try c.text("subject_id"),
            subjectKind: try c.value("subject_kind"), hash: try c.text("hash"), createdAt: try c.date("created_at"),
            expiresAt: try c.date("expires_at"), usedAt: try c.optionalDate("used_at"), revokedAt: try c.optionalDate("revoked_at"))
    }

    static func date(_ date: Date) -> SQLiteData {
        .float(StoredDate.seconds(date))
    }

    static func date(_ date: Date?) -> SQLiteData {
        date.map { .float(StoredDate.seconds($0)) } ?? .null
    }

    static func json(_ value: some Encodable) throws -> SQLiteData {
        .text(String(decoding: try JSONEncoder().encode(value), as: UTF8.self))
    }
}

/// A row of the identity store that cannot be read back: a column missing, of the wrong type, or
/// holding a value this version does not know (a role, a status). Reported rather than skipped, so
/// that a damaged row never reads as an absent identity.
public struct IdentityRowUnreadable: Error, CustomStringConvertible {
    public let table: String
    public let column: String
    public var description: String { "unreadable \(table).\(column)" }
}

/// Typed, throwing access to the columns of one row.
struct IdentityRow {
    let row: any SQLiteResultRow
    let table: String

    func unreadable(_ column: String) -> IdentityRowUnreadable {
        IdentityRowUnreadable(table: table, column: column)
    }

    func text(_ column: String) throws -> String {
        guard case .text(let value) = row.column(column) else { throw unreadable(column) }
        return value
    }

    func optionalText(_ column: String) throws -> String? {
        switch row.column(column) {
        case .null: nil
        case .text(let value): value
        default: throw unreadable(column)
        }
    }

    func integer(_ column: String) throws -> Int {
        guard case .integer(let value) = row.column(column) else { throw unreadable(column) }
        return Int(value)
    }

    func date(_ column: String) throws -> Date {
        guard let date = try optionalDate(column) else { throw unreadable(column) }
        return date
    }

    func optionalDate(_ column: String) throws -> Date? {
        switch row.column(column) {
        case .null: nil
        case .float(let seconds): Date(timeIntervalSince1970: seconds)
        case .integer(let seconds): Date(timeIntervalSince1970: Double(seconds))
        default: throw unreadable(column)
        }
    }

    func value<T: RawRepresentable<String>>(_ column: String) throws -> T {
        guard let value = T(rawValue: try text(column)) else { throw unreadable(column) }
        return value
    }

    func json<T: Decodable>(_ column: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(try text(column).utf8))
        } catch {
            throw unreadable(column)
        }
    }
}

/// Dates are kept to the millisecond, as REAL unix seconds. A `Date` is a Double of seconds since
/// 2001, and converting it to seconds since 1970 and back does not always give the same Double;
/// rounding to whole milliseconds on the way in makes every stored date read back as exactly the
/// `Date` that `normalized` gives. The in-memory store rounds the same way, so both stores return
/// equal records.
enum StoredDate {
    static func seconds(_ date: Date) -> Double {
        (date.timeIntervalSince1970 * 1000).rounded() / 1000
    }

    static func normalized(_ date: Date) -> Date {
        Date(timeIntervalSince1970: seconds(date))
    }
}
