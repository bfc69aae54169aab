import Foundation
import GovernanceCore
import TestServers
import Testing

/// Redis or PostgreSQL stopped under a live deployment.
extension ServeEndToEndTests {
    static let faultPassword = "an admin password for the fault tests"

    @Test func withRedisStoppedDecisionsGoOnFromL1AndRevocationsStillReachOtherReplicas() async throws {
        let databaseURL = try await onOwnThread { try PostgresServer.shared().freshDatabase() }
        let redis = try await RedisServer.start()
        let data = try temporaryDirectory()
        let environment = [
            "ACGS_DATABASE_URL": databaseURL, "ACGS_REDIS_URL": redis.url(), "ACGS_ADMIN_PASSWORD": Self.faultPassword,
            "ACGS_CACHE_RECONCILE_SECONDS": "2", "ACGS_LOG_LEVEL": "error",
        ]
        let first = try await Replica.start(dataDir: data, environment: environment)
        try await first.waitUntilReady()
        let second = try await Replica.start(dataDir: data, environment: environment)
        defer {
            _ = first.server.stop()
            _ = second.server.stop()
        }
        try await second.waitUntilReady()
        let admin = try await HTTP.adminToken("http://127.0.0.1:\(first.authPort)/api/v1/auth/token", password: Self.faultPassword)
        let key = try await HTTP.newAgentKey("http://127.0.0.1:\(first.authPort)", adminToken: admin, name: "fault-agent")
        let validate = "http://127.0.0.1:\(second.validatePort)/api/v1/constitutional/validate"
        let ready = "http://127.0.0.1:\(second.validatePort)/health/ready"
        for n in 0..<10 { #expect(try await HTTP.send("POST", validate, json: HTTP.action(n), bearer: key).status == 200) }
        #expect(try await HTTP.send("GET", ready).body["checks"]["cache_l2"] == "ok")

        await redis.kill()
        // Decisions, new and repeated, go on without an error.
        var statuses: [Int] = []
        for n in 0..<40 { statuses.append(try await HTTP.send("POST", validate, json: HTTP.action(n % 20), bearer: key).status) }
        #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
        try await waitUntil("readiness to report the degradation", timeout: .seconds(10)) {
            let answer = try? await HTTP.send("GET", ready)
            return answer?.status == 200 && answer?.body["checks"]["cache_l2"].stringValue?.hasPrefix("degraded") == true
        }

        // With no message to carry it, a revocation reaches the other replica by reconciliation.
        let grant = try await HTTP.send(
            "POST", "http://127.0.0.1:\(first.authPort)/api/v1/auth/token", json: ["grant_type": "api_key", "api_key": .string(key)])
        let token = try #require(grant.body["access_token"].stringValue)
        #expect(try await HTTP.send("POST", validate, json: HTTP.action(1), bearer: token).status == 200)
        #expect(try await HTTP.send("POST", "http://127.0.0.1:\(first.authPort)/api/v1/auth/revoke", json: ["token": .string(token)]).status == 200)
        let revokedAt = ContinuousClock.now
        try await waitUntil("the revocation to reach the other replica", timeout: .seconds(6)) {
            (try? await HTTP.send("POST", validate, json: HTTP.action(1), bearer: token).status) == 401
        }
        #expect(ContinuousClock.now - revokedAt < .seconds(4), "within the reconciliation period (2 s) and a poll")

        // Redis comes back: the replicas reconnect by themselves.
        try await redis.restart()
        try await waitUntil("readiness to report the L2 again", timeout: .seconds(20)) {
            (try? await HTTP.send("GET", ready))?.body["checks"]["cache_l2"] == "ok"
        }
        #expect(try await HTTP.send("POST", validate, json: HTTP.action(99), bearer: key).status == 200)
        await redis.stop()
    }

    @Test func withPostgreSQLStoppedGovernedEndpointsFailClosedAndResumeWithNothingLost() async throws {
        // A cluster of this test's own: stopping the shared one would fail every other test using it.
        let cluster = try await onOwnThread { try PostgresServer.launchPrivate() }
        defer { cluster.destroy() }
        let databaseURL = try await onOwnThread { try cluster.freshDatabase() }
        let database = String(databaseURL.split(separator: "/").last!)
        let data = try temporaryDirectory()
        let environment = ["ACGS_DATABASE_URL": databaseURL, "ACGS_ADMIN_PASSWORD": Self.faultPassword, "ACGS_LOG_LEVEL": "critical"]
        let replica = try await Replica.start(dataDir: data, environment: environment)
        defer { _ = replica.server.stop() }
        try await replica.waitUntilReady()
        let admin = try await HTTP.adminToken("http://127.0.0.1:\(replica.authPort)/api/v1/auth/token", password: Self.faultPassword)
        let key = try await HTTP.newAgentKey("http://127.0.0.1:\(replica.authPort)", adminToken: admin, name: "fault-agent")
        let validate = "http://127.0.0.1:\(replica.validatePort)/api/v1/constitutional/validate"
        let ready = "http://127.0.0.1:\(replica.validatePort)/health/ready"

        var acknowledged: [String] = []
        for n in 0..<10 {
            let answer = try await HTTP.send("POST", validate, json: HTTP.action(n), bearer: key)
            #expect(answer.status == 200)
            if let id = answer.body["decision_id"].stringValue { acknowledged.append(id) }
        }

        try await onOwnThread { try cluster.stop() }
        // Fail closed: no decision without its record, a JSON error, and not ready.
        let refused = try await HTTP.send("POST", validate, json: HTTP.action(100), bearer: key)
        #expect(refused.status == 503)
        #expect(refused.body["error"]["code"].stringValue != nil, "\(refused.body)")
        let notReady = try await HTTP.send("GET", ready)
        #expect(notReady.status == 503)
        #expect(notReady.body["status"] == "not_ready")

        try await onOwnThread { try cluster.start() }
        try await waitUntil("decisions to resume", timeout: .seconds(30)) {
            guard let answer = try? await HTTP.send("POST", validate, json: HTTP.action(200), bearer: key), answer.status == 200 else { return false }
            if let id = answer.body["decision_id"].stringValue { acknowledged.append(id) }
            return true
        }
        for n in 300..<310 {
            let answer = try await HTTP.send("POST", validate, json: HTTP.action(n), bearer: key)
            #expect(answer.status == 200)
            if let id = answer.body["decision_id"].stringValue { acknowledged.append(id) }
        }
        #expect(try await HTTP.send("GET", ready).status == 200)

        // Nothing acknowledged is lost, and the log still verifies.
        let stored = try await onOwnThread { try cluster.query("SELECT subject FROM audit_entries WHERE type = 'decision'", database: database) }
        let recorded = Set(stored.split(separator: "\n").map { String($0) })
        #expect(acknowledged.count == 21)
        #expect(acknowledged.allSatisfy(recorded.contains))
        try await waitUntil("a tree head over the whole log", timeout: .seconds(30)) {
            let covered = try? await onOwnThread {
                try cluster.query("SELECT (SELECT max(tree_size) FROM audit_heads) = (SELECT count(*) FROM audit_entries)", database: database)
            }
            return covered?.trimmingCharacters(in: .whitespacesAndNewlines) == "t"
        }
        var verifyEnvironment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ACGS_") }
        verifyEnvironment["ACGS_DATABASE_URL"] = databaseURL
        let verified = try await run(try acgsBinary(), ["audit", "verify", "--data-dir", data], environment: verifyEnvironment)
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
    }
}
