import Foundation
import GovernanceCore
import Synchronization
import TestServers
import Testing

/// Three replicas on one PostgreSQL and one Redis, behind NGINX with the shipped configuration.
extension ServeEndToEndTests {
    @Test func threeReplicasBehindNGINXSurviveTheLossOfOneAndKeepOneLog() async throws {
        let databaseURL = try await onOwnThread { try PostgresServer.shared().freshDatabase() }
        let database = String(databaseURL.split(separator: "/").last!)
        let redis = try await RedisServer.start()
        let data = try temporaryDirectory()
        let password = "an admin password for the replicas"
        let environment = [
            "ACGS_DATABASE_URL": databaseURL, "ACGS_REDIS_URL": redis.url(), "ACGS_ADMIN_PASSWORD": password, "ACGS_LOG_LEVEL": "warning",
        ]
        // The first replica creates the schema, the admin and the signing keys (in the data directory
        // the replicas share); the other two join it.
        var replicas = [try await Replica.start(dataDir: data, environment: environment)]
        try await replicas[0].waitUntilReady()
        replicas.append(try await Replica.start(dataDir: data, environment: environment))
        replicas.append(try await Replica.start(dataDir: data, environment: environment))
        for replica in replicas { try await replica.waitUntilReady() }
        let balancer = try LoadBalancer(replicas: replicas)
        defer {
            balancer.stop()
            for replica in replicas { _ = replica.server.stop() }
        }
        try await waitUntil("NGINX to answer", timeout: .seconds(10)) {
            (try? await HTTP.send("GET", balancer.url("constitutional_ai", "/health")).status) == 200
        }

        let admin = try await HTTP.adminToken(balancer.url("auth", "/api/v1/auth/token"), password: password)
        let key = try await HTTP.newAgentKey(balancer.url("auth", ""), adminToken: admin, name: "replica-e2e")

        // Eight clients send decisions through NGINX; a second in, the first replica (the one that
        // took the signer's lock at start) is killed outright.
        let clients = 8
        let stop = StopFlag()
        let running = replicas
        let started = ContinuousClock.now
        let results = try await withThrowingTaskGroup(of: [(ok: Bool, id: String?, index: Int?)].self) { group in
            for client in 0..<clients {
                group.addTask {
                    var mine: [(Bool, String?, Int?)] = []
                    var n = client * 1_000_000
                    while !stop.isSet {
                        n += 1
                        let answer = try? await HTTP.send(
                            "POST", balancer.url("constitutional_ai", "/api/v1/constitutional/validate"), json: HTTP.action(n), bearer: key)
                        if let answer, answer.status == 200 {
                            mine.append((true, answer.body["decision_id"].stringValue, answer.body["audit_index"].numberValue.map { Int($0) }))
                        } else {
                            mine.append((false, nil, nil))
                        }
                    }
                    return mine
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(1))
                running[0].server.kill()
                try await Task.sleep(for: .seconds(3))
                stop.set()
                return []
            }
            var all: [(ok: Bool, id: String?, index: Int?)] = []
            for try await part in group { all += part }
            return all
        }
        let acknowledged = results.filter { $0.ok }
        let failed = results.count - acknowledged.count
        #expect(acknowledged.count > 100, "decisions kept flowing (\(acknowledged.count) in \(ContinuousClock.now - started))")
        #expect(failed <= clients, "only requests in flight on the killed replica may fail: \(failed) failed")

        // Every acknowledged decision is in the one log, at the index it was answered with.
        let stored = try await onOwnThread {
            try PostgresServer.shared().query("SELECT subject || ' ' || idx FROM audit_entries WHERE type = 'decision'", database: database)
        }
        let recorded = Set(stored.split(separator: "\n").map { String($0) })
        let missing = acknowledged.filter { !recorded.contains("\($0.id ?? "?") \($0.index ?? -1)") }
        #expect(missing.isEmpty, "\(missing.count) acknowledged decisions are not in the log at their index")

        // A surviving replica takes over the signing and signs a head over everything, and the log
        // verifies offline with only the public keys.
        try await waitUntil("a tree head over the whole log", timeout: .seconds(15)) {
            let heads = try? await onOwnThread {
                try PostgresServer.shared().query(
                    "SELECT (SELECT max(tree_size) FROM audit_heads) = (SELECT count(*) FROM audit_entries)", database: database)
            }
            return heads?.trimmingCharacters(in: .whitespacesAndNewlines) == "t"
        }
        var verifyEnvironment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ACGS_") }
        verifyEnvironment["ACGS_DATABASE_URL"] = databaseURL
        let verified = try await run(try acgsBinary(), ["audit", "verify", "--data-dir", data], environment: verifyEnvironment)
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")

        // A token revoked through one replica is refused by another within a second, even though
        // that one had just validated (and cached) it.
        let grant = try await HTTP.send(
            "POST", "http://127.0.0.1:\(replicas[1].authPort)/api/v1/auth/token", json: ["grant_type": "api_key", "api_key": .string(key)])
        let token = try #require(grant.body["access_token"].stringValue)
        let other = "http://127.0.0.1:\(replicas[2].validatePort)/api/v1/constitutional/validate"
        #expect(try await HTTP.send("POST", other, json: HTTP.action(1), bearer: token).status == 200)
        #expect(try await HTTP.send("POST", other, json: HTTP.action(1), bearer: token).status == 200)
        let revoked = try await HTTP.send("POST", "http://127.0.0.1:\(replicas[1].authPort)/api/v1/auth/revoke", json: ["token": .string(token)])
        #expect(revoked.status == 200)
        let revokedAt = ContinuousClock.now
        var refusedAfter: Duration?
        while ContinuousClock.now - revokedAt < .seconds(3) {
            if try await HTTP.send("POST", other, json: HTTP.action(1), bearer: token).status == 401 {
                refusedAfter = ContinuousClock.now - revokedAt
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let after = try #require(refusedAfter, "the revoked token was still accepted by another replica after 3 s")
        #expect(after < .seconds(1), "refused after \(after)")
        print("replicas: \(acknowledged.count) decisions acknowledged through NGINX, \(failed) failed around the kill; revoked token refused by another replica after \(after)")
        await redis.stop()
    }
}

/// A flag the clients of a load test poll.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}
