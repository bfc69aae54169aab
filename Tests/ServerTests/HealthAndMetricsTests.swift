import HTTPTypes
import Foundation
import GovernanceCore
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Server

@Suite("Health, metrics and headers")
struct HealthAndMetricsTests {
    @Test func healthAnswersTheGuideShape() async throws {
        let h = try await Harness()
        let response = try await h.test { client in try await client.execute(uri: "/health", method: .get) }
        #expect(response.status == .ok)
        #expect(response.json["status"] == "healthy")
        #expect(response.json["service"] == "constitutional-ai")
        #expect(response.json["version"] == .string(ACGSVersion.current))
        #expect(response.json["constitutional_hash"] == .string(h.hash))
        #expect(response.json["uptime_seconds"].numberValue.map { $0 >= 0 } == true)
    }

    @Test func livenessAndReadiness() async throws {
        let h = try await Harness()
        let (live, ready) = try await h.test { client in
            (try await client.execute(uri: "/health/live", method: .get), try await client.execute(uri: "/health/ready", method: .get))
        }
        #expect(live.status == .ok && live.json["status"] == "alive")
        #expect(ready.status == .ok && ready.json["status"] == "ready")
        #expect(ready.json["checks"]["audit_log"] == "ok")
    }

    @Test(arguments: ["/health", "/health/live", "/health/ready", "/metrics", "/nope", validatePath])
    func everyResponseCarriesTheSecurityHeaders(path: String) async throws {
        let h = try await Harness()
        let response = try await h.test { client in
            try await client.execute(uri: path, method: path == validatePath ? .post : .get, headers: [:])
        }
        #expect(response.headers[HTTPField.Name("X-Constitutional-Hash")!] == h.hash)
        #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
        #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
        #expect(response.headers[HTTPField.Name("X-XSS-Protection")!] == "1; mode=block")
    }

    @Test func metricsExposeTheGuideSeries() async throws {
        let h = try await Harness()
        let text = try await h.test { client in
            for body in [#"{"content": "a"}"#, #"{"content": "a"}"#, #"{"action": {"type": "shell", "arguments": {"command": "rm -rf /"}}}"#] {
                try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: ByteBuffer(json: body))
            }
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            return String(buffer: response.body)
        }
        #expect(text.contains(#"acgs_request_duration_seconds_bucket{service="constitutional-ai",route="/api/v1/constitutional/validate",status="200""#))
        #expect(text.contains(#"acgs_requests_total{service="constitutional-ai",route="/api/v1/constitutional/validate",status="200"} 3"#))
        #expect(text.contains(#"acgs_decisions_total{decision="allow"} 2"#))
        #expect(text.contains(#"acgs_decisions_total{decision="deny"} 1"#))
        #expect(text.contains("acgs_cache_hit_rate{tier=\"l1\"} 0.333"))
        #expect(text.contains("acgs_constitutional_compliance_rate 1"))
    }
}

@Suite("Metrics restricted by configuration")
struct RestrictedMetricsTests {
    @Test func metricsAdmitOnlyAdminsAndAuditorsWhenConfigured() async throws {
        let base = try await Harness()
        let runtime = GovernanceRuntime(
            constitution: base.runtime.constitution, decisions: base.store, treeHeads: base.runtime.treeHeads, identities: base.identities,
            tokens: base.auth.tokens,
            authPolicy: base.auth.policy, metricsRequireAuth: true)
        let (_, auditor) = try await base.signIn(roles: [.auditor])
        let auditorToken = try await runtime.auth.authenticate(bearer: auditor).0.name
        #expect(!auditorToken.isEmpty)
        let app = Application(router: buildRouter(service: .constitutionalAI, runtime: runtime))
        let statuses = try await app.test(.router) { client in
            [
                try await client.execute(uri: "/metrics", method: .get).status,
                try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(base.agentKey)"]).status,
                try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(auditor)"]).status,
                try await client.execute(uri: "/health", method: .get).status,
            ]
        }
        #expect(statuses == [.unauthorized, .forbidden, .ok, .ok])
    }

    @Test func theSettingIsReadFromConfiguration() throws {
        var c = ServerConfiguration()
        try c.apply(yaml: "metrics:\n  require_auth: true\n", file: "acgs.yaml")
        #expect(c.metricsRequireAuth)
        #expect(throws: ServerConfiguration.Error.self) { try c.apply(environment: ["ACGS_METRICS_REQUIRE_AUTH": "maybe"]) }
    }
}

@Suite("Backend configuration")
struct BackendConfigurationTests {
    @Test func databaseAndRedisURLsAreReadAndBadOnesRefusedWithoutTheirPassword() throws {
        var c = ServerConfiguration()
        try c.apply(environment: [
            "ACGS_DATABASE_URL": "postgres://acgs:s3cret@db:5439/acgs", "ACGS_REDIS_URL": "redis://:s3cret@cache:6389/2",
            "ACGS_CACHE_RECONCILE_SECONDS": "3",
        ])
        #expect(c.databaseURL == "postgres://acgs:s3cret@db:5439/acgs")
        #expect(c.redisURL == "redis://:s3cret@cache:6389/2")
        #expect(c.reconcileSeconds == 3)
        try c.apply(yaml: "database:\n  url: postgres://u@h/d\nredis:\n  url: redis://h:1/0\n", file: "acgs.yaml")
        #expect(c.databaseURL == "postgres://u@h/d")

        for (name, value) in [("ACGS_DATABASE_URL", "mysql://root:s3cret@db/acgs"), ("ACGS_REDIS_URL", "rediss://:s3cret@cache:6389/0")] {
            var bad = ServerConfiguration()
            #expect {
                try bad.apply(environment: [name: value])
            } throws: { error in
                let text = "\(error)"
                return text.contains(name) && !text.contains("s3cret")
            }
        }
    }
}
