import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GovernanceCore
import Testing

/// `acgs perf` against a live `acgs serve` on free ports: the load, the results and the cleanup.
extension ServeEndToEndTests {
    static let perfPassword = "an admin password for perf"

    /// Runs `acgs perf` against `replica` with a short load; the arguments after the URLs are `extra`.
    func perf(_ replica: Replica, _ extra: [String], password: String? = perfPassword) async throws -> Finished {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ACGS_") }
        if let password { environment["ACGS_ADMIN_PASSWORD"] = password }
        let urls = [
            "--constitutional-ai", "http://127.0.0.1:\(replica.validatePort)", "--auth", "http://127.0.0.1:\(replica.authPort)",
            "--hitl", "http://127.0.0.1:\(replica.ports["agent_hitl"]!)",
        ]
        return try await run(try acgsBinary(), ["perf"] + urls + extra, environment: environment)
    }

    @Test func perfLoadsTheThreeServicesReportsAndCleansUp() async throws {
        let replica = try await Replica.start(dataDir: try temporaryDirectory(), environment: ["ACGS_ADMIN_PASSWORD": Self.perfPassword])
        defer { _ = replica.server.stop() }
        try await replica.waitUntilReady()
        let out = try temporaryDirectory()

        // Closed loop, targets loose enough for a debug build on a shared machine.
        let closed = try await perf(
            replica,
            ["--duration", "2", "--warmup", "0.5", "--connections", "8", "--json", out + "/perf.json", "--report", out + "/perf.html",
             "--target-p99-ms", "60000", "--target-throughput", "1"])
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/perf.json")))
        #expect(json["all_targets_met"].boolValue != nil, "\(closed.stderr)")
        let met = json["all_targets_met"] == true
        #expect(closed.status == (met ? 0 : 1), "\(closed.stdout)\n\(closed.stderr)")
        for field in ["timestamp", "constitutional_hash", "services_tested", "services_passed", "constitutional_compliant", "all_targets_met"] {
            #expect(json[field] != .null, "missing \(field)")
        }
        #expect(json["constitutional_hash"] == "cdd01ef066bc6cf2")
        #expect(json["services_tested"] == 3)
        #expect(json["constitutional_compliant"] == 3)
        #expect(json["throughput_result"]["total_throughput"].numberValue ?? 0 > 0)
        #expect(json["throughput_result"]["target_met"].boolValue != nil)
        #expect(json["throughput_result"]["service_results"].objectValue?.count == 3)
        let results = try #require(json["service_results"].arrayValue)
        #expect(results.map { $0["service_name"].stringValue ?? "" } == ["constitutional-ai", "auth", "agent-hitl"])
        for result in results {
            for field in [
                "avg_latency_ms", "p50_latency_ms", "p90_latency_ms", "p99_latency_ms", "p99_9_latency_ms", "max_latency_ms", "throughput_rps",
                "success_rate", "constitutional_compliance", "target_met", "errors", "requests",
            ] {
                #expect(result[field] != .null, "missing \(field) in \(result)")
            }
            #expect(result["requests"].numberValue ?? 0 > 0)
            // Errors are counted, not hidden (the embedded store can answer 503 under load): most succeed.
            #expect(result["success_rate"].numberValue ?? 0 > 0.5, "\(result)")
            let statuses = result["status_counts"].objectValue ?? [:]
            #expect(statuses.values.reduce(0) { $0 + ($1.numberValue ?? 0) } == result["requests"].numberValue, "\(result)")
            #expect(result["errors"].numberValue == (result["status_errors"].numberValue ?? -1) + (result["connection_errors"].numberValue ?? -1)
                    + (result["unsent"].numberValue ?? -1))
            #expect(result["target_met"] == .bool(result["errors"] == 0), "\(result)")
            #expect(result["constitutional_compliance"] == true)
            // The tool's own CPU per request: some, and less than the 2.5 s of the phase spread over its requests.
            let generatorCPU = result["load_generator_cpu_us_per_request"].numberValue ?? -1
            #expect(generatorCPU > 0 && generatorCPU < 2_500_000 / (result["requests"].numberValue ?? 1), "\(result)")
            let p50 = result["p50_latency_ms"].numberValue ?? -1, p99 = result["p99_latency_ms"].numberValue ?? -1
            #expect(p50 > 0 && p50 <= p99 && p99 <= result["max_latency_ms"].numberValue ?? -1)
        }
        // The reviews went through the fast lane: the HITL phase's agent had no denials on its record.
        let (metricsData, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(replica.ports["agent_hitl"]!)/metrics")!)
        let fastLane = String(decoding: metricsData, as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix(#"acgs_review_requests_total{lane="fast"}"#) }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        let answered = (results[2]["requests"].numberValue ?? .infinity) - (results[2]["errors"].numberValue ?? 0)
        #expect(fastLane >= answered, "\(results[2])")
        // The table, per service.
        for service in ["constitutional-ai", "auth", "agent-hitl"] { #expect(closed.stdout.contains(service)) }
        // The HTML report: a plot per service.
        let html = try String(contentsOfFile: out + "/perf.html", encoding: .utf8)
        #expect(html.components(separatedBy: "<svg").count - 1 == 3)
        #expect(html.contains("agent-hitl"))
        // The load agent is gone.
        let authBase = "http://127.0.0.1:\(replica.authPort)"
        let admin = try await HTTP.adminToken(authBase + "/api/v1/auth/token", password: Self.perfPassword)
        let agents = try await HTTP.send("GET", authBase + "/api/v1/auth/agents", bearer: admin)
        #expect(agents.status == 200)
        let names = (agents.body["agents"].arrayValue ?? []).compactMap { $0["name"].stringValue }
        #expect(!names.contains { $0.hasPrefix("acgs-perf-") }, "\(names)")

        // Open loop: a schedule of 200 requests per second per endpoint; the measured count follows it.
        let open = try await perf(
            replica,
            ["--rate", "200", "--duration", "2", "--warmup", "0.5", "--connections", "8", "--services", "constitutional-ai,auth",
             "--json", out + "/open.json", "--target-p99-ms", "60000", "--target-throughput", "1"])
        let openJSON = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/open.json")))
        #expect(open.status == (openJSON["all_targets_met"] == true ? 0 : 1), "\(open.stdout)\n\(open.stderr)")
        #expect(openJSON["services_tested"] == 2)
        #expect(openJSON["mode"].stringValue?.contains("open loop") == true)
        for result in openJSON["service_results"].arrayValue ?? [] {
            let count = result["requests"].numberValue ?? 0
            #expect(count >= 300 && count <= 401, "an evenly spaced schedule of 200/s for 2 s: \(result)")
        }

        // The guide's original health checks need no credential.
        let health = try await perf(
            replica, ["--health-only", "--duration", "1", "--warmup", "0", "--connections", "4", "--json", out + "/health.json", "--target-p99-ms", "60000"], password: nil)
        #expect(health.status == 0, "\(health.stdout)\n\(health.stderr)")
        let healthJSON = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/health.json")))
        #expect(healthJSON["services_tested"] == 3)
        #expect(healthJSON["constitutional_compliant"] == 3)

        // A target missed is exit status 1; a usage error 3.
        let strict = try await perf(replica, ["--health-only", "--duration", "0.5", "--warmup", "0", "--connections", "2", "--target-throughput", "1e12"])
        #expect(strict.status == 1, "\(strict.stdout)\n\(strict.stderr)")
        #expect(strict.stdout.contains("NOT met"))
        let usage = try await perf(replica, ["--services", "nonsense"])
        #expect(usage.status == 3)
        let noPassword = try await perf(replica, ["--duration", "1"], password: nil)
        #expect(noPassword.status == 3, "\(noPassword.stderr)")
    }
}
