import Cache
import Foundation
import GovernanceCore
import Hummingbird
import HummingbirdTesting
import RedisClient
import TestServers
import Testing

@testable import Server

/// The Redis L2 under each replica's L1, with a real redis-server.
@Suite("Cache tiers")
struct CacheTierTests {
    static let input = #"{"action": {"type": "http_request", "tool": "fetch", "arguments": {"url": "https://example.com/l2"}}}"#

    @Test func aDecisionCachedByOneReplicaIsAnsweredFromTheL2ByAnother() async throws {
        let server = try await RedisServer.start()
        let redis = RedisClient(configuration: try RedisConfiguration(url: server.url()))
        let l2 = L2Cache(redis: redis)
        let first = try await Harness(l2: l2)
        let second = try await Harness(l2: l2, replicaOf: first)

        let judged = try await first.test { try await $0.execute(uri: "/api/v1/constitutional/validate", method: .post, headers: first.headers(), body: ByteBuffer(json: Self.input)) }
        #expect(judged.status == .ok)
        #expect(judged.json["metadata"]["cache_hit"] == false)
        // Stored in the background, under the purpose and the constitutional hash.
        try await waitUntil("the evaluation is in Redis", timeout: .seconds(10)) {
            let keys = try await redis.send(["KEYS", "acgs:policy_decisions:\(first.hash):*"])
            return (keys.array?.count ?? 0) > 0
        }

        let fromL2 = try await second.test { try await $0.execute(uri: "/api/v1/constitutional/validate", method: .post, headers: second.headers(), body: ByteBuffer(json: Self.input)) }
        #expect(fromL2.status == .ok)
        #expect(fromL2.json["metadata"]["cache_hit"] == true, "the other replica's evaluation, from Redis")
        #expect(fromL2.json["decision"] == judged.json["decision"])
        #expect(fromL2.json["violations"] == judged.json["violations"])
        #expect(fromL2.json["decision_id"] != judged.json["decision_id"], "a decision of its own, recorded in its own log")
        #expect(second.runtime.metrics.exposition().contains(#"acgs_cache_hit_rate{tier="l2"} 1"#))
        await redis.shutdown()
        await server.stop()
    }

    @Test func withoutRedisDecisionsGoOnFromTheL1() async throws {
        // Redis was never there: every L2 lookup is a miss, fast, and nothing fails.
        let redis = RedisClient(configuration: RedisConfiguration(port: try FreePort.next()))
        let h = try await Harness(l2: L2Cache(redis: redis))
        for _ in 0..<3 {
            let response = try await h.test { try await $0.execute(uri: "/api/v1/constitutional/validate", method: .post, headers: h.headers(), body: ByteBuffer(json: Self.input)) }
            #expect(response.status == .ok)
        }
        #expect(!L2Cache(redis: redis).isAvailable)
        let ready = try await h.test { try await $0.execute(uri: "/health/ready", method: .get) }
        #expect(ready.status == .ok)
        #expect(ready.json["checks"]["cache_l2"].stringValue?.hasPrefix("degraded") == true)
        await redis.shutdown()
    }

    @Test func keysAreNamespacedByPurposeAndConstitution() {
        #expect(L2Cache.key(.policyDecisions, hash: "cdd01ef066bc6cf2", "k") == "acgs:policy_decisions:cdd01ef066bc6cf2:k")
        #expect(L2Cache.key(.jwtValidation, hash: "0123456789abcdef", "k") == "acgs:jwt_validation:0123456789abcdef:k")
        #expect(CachePurpose.constitutionalHash.ttlSeconds == 86_400)
        #expect(CachePurpose.jwtValidation.ttlSeconds == 3_600)
        #expect(CachePurpose.policyDecisions.ttlSeconds == 1_800)
    }
}
