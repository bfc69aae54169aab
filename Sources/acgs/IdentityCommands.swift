import ArgumentParser
import AuditLog
import Foundation
import GovernanceCore
import Identity
import Logging
import Server
import Storage

/// Offline identity management against a data directory, for getting started and for scripts. Its
/// auth events go into the data directory's audit log like a server's (a server running beside it
/// continues after them).
struct Offline {
    let auth: AuthService
    let stores: Stores
    let keys: SigningKeyStore

    /// Runs `body` on the offline store of `dataDir` (or PostgreSQL, see `OfflineStores`). Failures of
    /// the identity operations are input errors (exit status 3).
    static func run(dataDir: String, _ body: (Offline) async throws -> Void) async throws {
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try await OfflineStores.with(dataDir: dataDir) { stores in
            let log = try await AuditLogWriter.open(repository: stores.audit)
            let hash = try await lastActivatedConstitution(stores.audit) ?? ReferenceConstitution.hash
            let policy = AuthPolicy()
            let keys = try await SigningKeyStore(directory: dataDir + "/keys", retiredKeyLifetime: policy.accessTokenLifetime)
            let tokens = await TokenService(keys: keys, issuer: policy.issuer, audience: policy.audience, lifetime: policy.accessTokenLifetime)
            let auth = AuthService(
                repository: stores.identities, tokens: tokens, events: AuditAuthEventSink(log: log, constitutionalHash: { hash }), policy: policy
            ) { hash }
            do {
                try await body(Offline(auth: auth, stores: stores, keys: keys))
            } catch {
                throw error is InputError ? error : InputError("\(error)")
            }
        }
    }

    /// The constitution a server last activated on this store, for the entries written here.
    static func lastActivatedConstitution(_ audit: any AuditRepository) async throws -> String? {
        var query = AuditEntryQuery(limit: 1_000, type: .constitution)
        var last: StoredAuditEntry?
        while true {
            guard let final = try await audit.entries(query).last else { break }
            last = final
            query.after = final.index
        }
        return last.flatMap { try? AuditEntry(text: $0.text) }?.event.constitutionalHash
    }

    static func roles(_ names: [String]) throws -> [Role] {
        try names.flatMap { $0.split(separator: ",") }.map { name in
            guard let role = Role(rawValue: String(name)) else {
                throw InputError("unknown role '\(name)' (\(Role.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return role
        }
    }
}

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agent", abstract: "Manage agents offline.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an agent and its first API key (printed once).")

        @Argument(help: "The agent's name.") var name: String
        @Option(help: "Who owns the agent.") var owner = "unassigned"
        @Option(name: .customLong("role"), help: "A role (repeatable; default agent).") var roles: [String] = []
        @Option(help: "Data directory of the store.") var dataDir = "./acgs-data"

        func run() async throws {
            try await Offline.run(dataDir: dataDir) { offline in
                let roles = try Offline.roles(self.roles)
                let agent = try await offline.auth.createAgent(name: name, owner: owner, roles: roles.isEmpty ? [.agent] : roles, by: "cli")
                let (key, record) = try await offline.auth.createAPIKey(agentId: agent.id, expiresAt: nil, by: "cli")
                print("agent   \(agent.id)  \(agent.name)  roles \(agent.roles.map(\.rawValue).joined(separator: ","))")
                print("api key \(key)")
                print("        (key id \(record.id); shown once, stored only as a hash)")
            }
        }
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Manage people offline.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a person. The password is read from standard input, or generated and printed once.")

        @Argument(help: "The username.") var username: String
        @Option(name: .customLong("role"), help: "A role (repeatable): admin, agent, reviewer, policy_author, council_member, auditor.")
        var roles: [String] = []
        @Flag(help: "Read the password from standard input instead of generating one.") var passwordStdin = false
        @Option(help: "Data directory of the store.") var dataDir = "./acgs-data"

        func run() async throws {
            let roles = try Offline.roles(self.roles)
            guard !roles.isEmpty else { throw InputError("give at least one --role") }
            var password = Credentials.random(24)
            if passwordStdin {
                password = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                    .trimmingCharacters(in: .newlines)
            }
            try await Offline.run(dataDir: dataDir) { offline in
                let user = try await offline.auth.createUser(username: username, password: password, roles: roles, by: "cli")
                print("user     \(user.id)  \(user.username)  roles \(user.roles.map(\.rawValue).joined(separator: ","))")
                if !passwordStdin { print("password \(password)  (shown once)") }
            }
        }
    }
}

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys", abstract: "Token signing keys.", subcommands: [Rotate.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new signing key active. Old keys keep verifying until the tokens they signed expire.")

        @Option(help: "Data directory of the store.") var dataDir = "./acgs-data"

        func run() async throws {
            try await Offline.run(dataDir: dataDir) { offline in
                let kid = try await offline.keys.rotate()
                try await offline.auth.events.record(AuthEvent(.signingKeyRotated, actor: "cli", subject: kid))
                print("active signing key \(kid)")
            }
        }
    }
}
