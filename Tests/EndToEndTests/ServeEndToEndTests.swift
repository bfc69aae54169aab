import Foundation
import GovernanceCore
import Testing

/// Against a live `acgs serve` on the guide's port: these tests own port 32768, so they run one at
/// a time.
@Suite("acgs serve, live", .serialized)
struct ServeEndToEndTests {
    @Test func theGuidesHealthCommandWorksVerbatim() async throws {
        let data = try temporaryDirectory()
        let server = try await ServerProcess(arguments: ["--data-dir", data])
        defer { _ = server.stop() }
        try await server.waitUntilServing("http://localhost:32768/health")

        // The deployment guide's command, exactly.
        let health = try await run("/usr/bin/curl", ["-s", "-i", "http://localhost:32768/health"])
        #expect(health.stdout.hasPrefix("HTTP/1.1 200 OK"))
        #expect(health.stdout.contains("X-Constitutional-Hash: cdd01ef066bc6cf2"))
        let body = try #require(health.stdout.components(separatedBy: "\r\n\r\n").last)
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(body.utf8))
        #expect(json["status"] == "healthy")
        #expect(json["service"] == "constitutional-ai")
        #expect(json["constitutional_hash"] == "cdd01ef066bc6cf2")

        // The guide's other health checks, and the Integrity service's.
        for (port, service) in [(8016, "auth"), (8008, "agent-hitl"), (8002, "integrity")] {
            let other = try await run("/usr/bin/curl", ["-s", "http://localhost:\(port)/health"])
            let json = try JSONDecoder().decode(JSONValue.self, from: Data(other.stdout.utf8))
            #expect(json["service"] == .string(service))
            #expect(json["status"] == "healthy")
        }
    }

    @Test func everyThreadOfTheServerRunsUnderTheBatchPolicy() async throws {
        let data = try temporaryDirectory()
        let server = try await ServerProcess(arguments: ["--data-dir", data])
        defer { _ = server.stop() }
        try await server.waitUntilServing("http://localhost:32768/health")
        _ = try await run("/usr/bin/curl", ["-s", "http://localhost:8016/health"])
        // The scheduling policy is the 41st field of /proc/PID/task/TID/stat (after the name in
        // parentheses, which may hold spaces): 3 is SCHED_BATCH, 0 the default.
        let tasks = "/proc/\(server.process.processIdentifier)/task"
        let threads = try FileManager.default.contentsOfDirectory(atPath: tasks)
        #expect(threads.count > 4, "the event loops, Swift's threads and the audit log's writer")
        for thread in threads {
            let stat = try String(contentsOfFile: "\(tasks)/\(thread)/stat", encoding: .utf8)
            let fields = try #require(stat.split(separator: ")").last).split(separator: " ")
            #expect(fields[38] == "3", "thread \(thread) (\(stat.prefix(40))) is not under SCHED_BATCH")
        }
    }

    @Test func decidesOverHTTPAndKeepsTheRecordAcrossARestart() async throws {
        let data = try temporaryDirectory()
        let body = #"{"action": {"type": "shell", "tool": "bash", "arguments": {"command": "rm -rf / --no-preserve-root"}}}"#
        var decisionId = ""
        // An agent and its key, created offline against the same data directory.
        let key = try await createAgent("e2e-agent", dataDirectory: data, options: ["--owner", "tests"])
        do {
            let server = try await ServerProcess(arguments: ["--data-dir", data], environment: ["ACGS_ADMIN_PASSWORD": "an admin password for e2e"])
            defer { _ = server.stop() }
            try await server.waitUntilServing("http://localhost:32768/health/ready")
            let unauthenticated = try await run(
                "/usr/bin/curl",
                [
                    "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "http://localhost:32768/api/v1/constitutional/validate",
                    "-H", "Content-Type: application/json", "-H", "X-Constitutional-Hash: cdd01ef066bc6cf2", "-d", body,
                ])
            #expect(unauthenticated.stdout == "401")
            let result = try await run(
                "/usr/bin/curl",
                [
                    "-s", "-X", "POST", "http://localhost:32768/api/v1/constitutional/validate", "-H", "Content-Type: application/json",
                    "-H", "X-Constitutional-Hash: cdd01ef066bc6cf2", "-H", "Authorization: Bearer \(key)", "-d", body,
                ])
            let json = try JSONDecoder().decode(JSONValue.self, from: Data(result.stdout.utf8))
            #expect(json["decision"] == "deny")
            decisionId = try #require(json["decision_id"].stringValue)
            #expect(server.stop() == 0, "SIGTERM stops the server cleanly")
        }
        let rows = try await run(
            "/usr/bin/sqlite3",
            [data + "/acgs.sqlite", "SELECT json_extract(entry, '$.payload.evaluation.decision') FROM audit_entries WHERE subject = '\(decisionId)'"])
        #expect(rows.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "deny")
    }

    @Test func refusesABadConfigurationNamingTheKey() async throws {
        let binary = try acgsBinary()
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ACGS_") }
        env["ACGS_CACHE_MAX_ENTRIES"] = "lots"
        let bad = try await run(binary, ["serve", "--data-dir", try temporaryDirectory()], environment: env)
        #expect(bad.status == 78)
        #expect(bad.stderr.contains("cache.max_entries"))
        #expect(bad.stderr.contains("ACGS_CACHE_MAX_ENTRIES"))

        let config = try temporaryDirectory() + "/acgs.yaml"
        try "cache:\n  ttl_secs: 30\n".write(toFile: config, atomically: true, encoding: .utf8)
        let typo = try await run(binary, ["serve", "--config", config], environment: env.filter { $0.key != "ACGS_CACHE_MAX_ENTRIES" })
        #expect(typo.status == 78)
        #expect(typo.stderr.contains("'cache.ttl_secs'"))
    }

    @Test func refusesToStartOnATamperedConstitution() async throws {
        let dir = try temporaryDirectory()
        let tampered = ReferenceConstitution.source.replacingOccurrences(of: "effect: deny", with: "effect: warn")
        try tampered.write(toFile: dir + "/tampered.yaml", atomically: true, encoding: .utf8)
        let result = try await run(try acgsBinary(), ["serve", "--data-dir", dir, "--constitution", dir + "/tampered.yaml"])
        #expect(result.status == 78)
        #expect(result.stderr.contains("claims to be the reference constitution cdd01ef066bc6cf2"))
    }
}
