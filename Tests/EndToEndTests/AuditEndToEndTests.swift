import Foundation
import GovernanceCore
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The audit log against live servers: acknowledged decisions survive a crash, and the log verifies
/// after it. Part of the serialized live suite, because every live test owns the guide's ports.
extension ServeEndToEndTests {
    static let password = "an admin password for the audit e2e"

    @Test func everyAcknowledgedDecisionSurvivesSIGKILLAndTheLogVerifies() async throws {
        let data = try temporaryDirectory()
        let binary = try acgsBinary()
        let key = try await createAgent("crash-agent", dataDirectory: data)
        let environment = ["ACGS_ADMIN_PASSWORD": Self.password]

        // A burst of decisions from 16 clients; SIGKILL once 150 are acknowledged, while more are in flight.
        let acknowledged: [(id: String, index: Int)]
        do {
            let server = try await ServerProcess(arguments: ["--data-dir", data], environment: environment)
            defer { _ = server.stop() }
            try await server.waitUntilServing("http://localhost:32768/health/ready")
            let counter = Acknowledged()
            acknowledged = try await withThrowingTaskGroup(of: [(String, Int)].self) { group in
                for client in 0..<16 {
                    group.addTask {
                        var mine: [(String, Int)] = []
                        for i in 0..<1_000 {
                            let body = #"{"action": {"type": "shell", "arguments": {"command": "echo \#(client)-\#(i)"}}}"#
                            let response: (status: Int, json: JSONValue)
                            do {
                                response = try await HTTP.call("POST", "http://localhost:32768/api/v1/constitutional/validate", bearer: key, body: body)
                            } catch {
                                // Only the kill may end the burst; an error before it is a failure.
                                if await !counter.killed { Issue.record("request failed before the kill: \(error)") }
                                break
                            }
                            guard response.status == 200 else {
                                Issue.record("a decision was refused: \(response.status) \(response.json)")
                                break
                            }
                            let id = try #require(response.json["decision_id"].stringValue)
                            let index = try #require(response.json["audit_index"].numberValue.map(Int.init))
                            mine.append((id, index))
                            if await counter.add() == 150 {
                                await counter.markKilled()
                                server.kill()
                            }
                        }
                        return mine
                    }
                }
                var all: [(String, Int)] = []
                for try await part in group { all += part }
                return all
            }
            server.kill()
            #expect(await counter.killed, "the burst reached 150 acknowledged decisions before the kill")
        }
        #expect(acknowledged.count >= 150)

        // Restarted on the same store: every acknowledged decision is in the log, and the log verifies.
        let restarted = try await ServerProcess(arguments: ["--data-dir", data], environment: environment)
        do {
            defer { _ = restarted.stop() }
            try await restarted.waitUntilServing("http://localhost:8002/health/ready")
            let token = try await HTTP.adminToken(password: Self.password)
            for (id, index) in acknowledged {
                let entry = try await HTTP.call("GET", "http://localhost:8002/api/v1/integrity/entries/\(index)", bearer: token)
                #expect(entry.status == 200)
                #expect(entry.json["entry"]["payload"]["decision_id"] == .string(id), "entry \(index)")
            }
            let report = try await HTTP.call("POST", "http://localhost:8002/api/v1/integrity/verify", bearer: token)
            #expect(report.json["valid"] == true, "\(report.json["problems"])")
            #expect(restarted.stop() == 0)
        }

        // Offline, with the public keys only: verify, export, verify the export, prove an entry.
        let verified = try await run(binary, ["audit", "verify", "--data-dir", data])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        #expect(verified.stdout.contains("the log verifies"))
        let export = data + "/export.jsonl"
        #expect(try await run(binary, ["audit", "export", "--data-dir", data, "--output", export]).status == 0)
        let fromExport = try await run(binary, ["audit", "verify", "--export", export, "--json"])
        #expect(fromExport.status == 0, "\(fromExport.stdout)")
        let exportReport = try JSONDecoder().decode(JSONValue.self, from: Data(fromExport.stdout.utf8))
        #expect(exportReport["valid"] == true)
        let (_, sample) = try #require(acknowledged.first)
        let proved = try await run(binary, ["audit", "prove", String(sample), "--data-dir", data])
        #expect(proved.status == 0, "\(proved.stderr)")
        let proof = try JSONDecoder().decode(JSONValue.self, from: Data(proved.stdout.utf8))
        #expect(proof["index"].numberValue == Double(sample))
        #expect(proof["audit_path"].arrayValue?.isEmpty == false)

        // One changed byte is named, by index, both in the store and in an export of it.
        let tamper = try await run("/usr/bin/sqlite3", [data + "/acgs.sqlite", "UPDATE audit_entries SET entry = replace(entry, 'echo ', 'echo!') WHERE idx = \(sample)"])
        #expect(tamper.status == 0, "\(tamper.stderr)")
        let failed = try await run(binary, ["audit", "verify", "--data-dir", data])
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("entry_changed at \(sample)"), "\(failed.stdout)")
        let tamperedExport = data + "/tampered.jsonl"
        #expect(try await run(binary, ["audit", "export", "--data-dir", data, "--output", tamperedExport]).status == 0)
        let failedExport = try await run(binary, ["audit", "verify", "--export", tamperedExport])
        #expect(failedExport.status == 1)
        #expect(failedExport.stdout.contains("entry_changed at \(sample)"), "\(failedExport.stdout)")
    }

    @Test func aTruncatedLogIsRefusedAtStart() async throws {
        let data = try temporaryDirectory()
        do {
            let server = try await ServerProcess(arguments: ["--data-dir", data], environment: ["ACGS_ADMIN_PASSWORD": Self.password])
            defer { _ = server.stop() }
            try await server.waitUntilServing("http://localhost:32768/health/ready")
            #expect(server.stop() == 0)
        }
        let truncate = try await run("/usr/bin/sqlite3", [data + "/acgs.sqlite", "DELETE FROM audit_entries WHERE idx = (SELECT MAX(idx) FROM audit_entries)"])
        #expect(truncate.status == 0)
        let refused = try await run(try acgsBinary(), ["serve", "--data-dir", data])
        #expect(refused.status == 78)
        #expect(refused.stderr.contains("truncated"), "\(refused.stderr)")
    }
}

actor Acknowledged {
    var count = 0
    var killed = false

    func add() -> Int {
        count += 1
        return count
    }

    func markKilled() { killed = true }
}
