import Foundation
import TestServers
import Testing

@Suite("acgs migrate and the offline commands on PostgreSQL")
struct MigrateCommandTests {
    @Test func migrateAppliesEveryVersionOnceAndOfflineCommandsUseTheDatabase() async throws {
        let url = try await onOwnThread { try PostgresServer.shared().freshDatabase() }
        let database = String(url.split(separator: "/").last!)
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ACGS_") }
        environment["ACGS_DATABASE_URL"] = url
        let binary = try acgsBinary()
        for _ in 0..<2 {
            let migrated = try await run(binary, ["migrate"], environment: environment)
            #expect(migrated.status == 0, "\(migrated.stderr)")
            #expect(migrated.stdout.contains("schema up to date (versions 1, 2, 3, 4, 5, 6, 7)"))
        }
        let versions = try await onOwnThread { try PostgresServer.shared().query("SELECT count(*) FROM schema_migrations", database: database) }
        #expect(versions.trimmingCharacters(in: .whitespacesAndNewlines) == "7", "each version applied once")

        // An agent created offline lands in PostgreSQL, with its auth entry in the shared audit log.
        let data = try temporaryDirectory()
        let created = try await run(binary, ["agent", "create", "pg-agent", "--data-dir", data], environment: environment)
        #expect(created.status == 0, "\(created.stderr)")
        let agents = try await onOwnThread { try PostgresServer.shared().query("SELECT name FROM agents", database: database) }
        #expect(agents.contains("pg-agent"))
        let entries = try await onOwnThread {
            try PostgresServer.shared().query("SELECT count(*) FROM audit_entries WHERE type = 'auth'", database: database)
        }
        #expect((Int(entries.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 2, "agent and key creation are audited")
        #expect(!FileManager.default.fileExists(atPath: data + "/acgs.sqlite"), "nothing went to the embedded store")

        environment["ACGS_DATABASE_URL"] = "mysql://root@db/acgs"
        let refused = try await run(binary, ["migrate"], environment: environment)
        #expect(refused.status == 3)
        #expect(refused.stderr.contains("ACGS_DATABASE_URL"))
    }
}
