import Crypto
import Foundation
import GovernanceCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ServiceLifecycle
import Storage
import Testing

@testable import Server

/// A receiver on loopback: records what it is sent; answers 500 to the first delivery, then 200.
actor Receiver {
    var received: [(headers: HTTPFields, body: String)] = []
    func record(_ headers: HTTPFields, _ body: String) -> Bool {
        received.append((headers, body))
        return received.count > 1
    }
}

@Suite("Webhooks")
struct WebhookTests {
    /// A receiver on loopback that accepts every delivery, and how to stop it.
    static func acceptingReceiver(port: Int) async throws -> (Receiver, @Sendable () async -> Void) {
        let receiver = Receiver()
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            _ = await receiver.record(request.headers, String(buffer: try await request.body.collect(upTo: 1 << 20)))
            return .ok
        }
        // A redirect that keeps the method: followed, it would deliver to /hook.
        router.post("/moved") { _, _ in
            Response(status: .temporaryRedirect, headers: [.location: "http://127.0.0.1:\(port)/hook"])
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        let services = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: app.logger))
        let running = Task { try await services.run() }
        try await Task.sleep(for: .milliseconds(300))
        return (
            receiver,
            {
                // The server first closes its listener; cancelled at once, it could accept a late
                // delivery's connection and drop it half set up, which NIO's debug builds trap.
                await services.triggerGracefulShutdown()
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { _ = try? await running.value }
                    group.addTask { try? await Task.sleep(for: .seconds(2)) }
                    await group.next()
                    group.cancelAll()
                }
                running.cancel()
            }
        )
    }

    /// A webhook for agt_1 delivering to `port`, stored, and a request of agt_1's to notify.
    static func requestWithWebhook(in store: any WebhookRepository, port: Int, path: String = "/hook") async throws -> ReviewRequest {
        try await store.insert(
            WebhookRecord(
                id: "whk_1", agentId: "agt_1", url: "http://127.0.0.1:\(port)\(path)", secret: "a secret of sixteen+", createdBy: "agt_1",
                createdAt: Date()))
        return ReviewRequest(
            id: "rev_1", requester: "agt_1", action: ["type": "tool_call"], context: .null,
            risk: RiskAssessment(factors: [RiskFactor(name: "test", weight: 0.4, detail: "")]), constitutionalHash: "cdd01ef066bc6cf2",
            policy: ReviewPolicy(), at: Date())
    }

    @Test func changesAreSignedRetriedAndLogged() async throws {
        let h = try await Harness()
        let receiver = Receiver()
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
            return await receiver.record(request.headers, body) ? .ok : .internalServerError
        }
        let port = Int.random(in: 19_600..<19_900)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        let services = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: app.logger))
        let running = Task { try await services.run() }
        defer { Task { await services.triggerGracefulShutdown() } }
        try await Task.sleep(for: .milliseconds(300))

        let secret = "a shared secret of the agent's team"
        let created = try await h.hitl(.post, "/api/v1/webhooks", body: #"{"url": "http://127.0.0.1:\#(port)/hook", "secret": "\#(secret)"}"#)
        #expect(created.status == .created)
        #expect(created.json["secret"] == .string(secret), "shown once, at creation")
        let hookId = try #require(created.json["id"].stringValue)
        #expect(try await h.hitl(.get, "/api/v1/webhooks").json["webhooks"][0]["secret"] == .null, "never shown again")

        let review = try await h.hitl(.post, "/api/v1/reviews", body: HITLRouterTests.transfer)
        let reviewId = try #require(review.json["id"].stringValue)
        let deadline = ContinuousClock.now + .seconds(60)
        while await receiver.received.count < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let received = await receiver.received
        #expect(received.count == 2, "a failed delivery is retried")
        let (headers, body) = try #require(received.last)
        let timestamp = try #require(headers[HTTPField.Name("X-ACGS-Timestamp")!])
        #expect(headers[HTTPField.Name("X-ACGS-Signature")!] == WebhookDispatcher.signature(secret: secret, timestamp: timestamp, body: body))
        let mac = HMAC<SHA256>.authenticationCode(for: Data((timestamp + "." + body).utf8), using: SymmetricKey(data: Data(secret.utf8)))
        #expect(headers[HTTPField.Name("X-ACGS-Signature")!] == "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
        let json = try JSONValue.parse(body)
        #expect(json["event"] == "review.updated")
        #expect(json["review"]["id"] == .string(reviewId))
        #expect(abs((Double(timestamp) ?? 0) - Date().timeIntervalSince1970) < 60, "timestamped, so replays can be refused")

        // The attempt is logged once its answer is in, a moment after the receiver saw it.
        var attempts: [JSONValue] = []
        while attempts.count < 2, ContinuousClock.now < deadline {
            attempts = try await h.hitl(.get, "/api/v1/webhooks/\(hookId)/deliveries").json["deliveries"].arrayValue ?? []
            if attempts.count < 2 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(attempts.count == 2)
        #expect(attempts.contains { $0["status"] == 500 && $0["attempt"] == 1 })
        #expect(attempts.contains { $0["status"] == 200 && $0["attempt"] == 2 && $0["succeeded"] == true })

        // Another agent's requests do not reach this webhook, nor may it manage it.
        let other = try await h.auth.createAgent(name: "other", owner: "tests", by: nil)
        let otherKey = try await h.auth.createAPIKey(agentId: other.id, expiresAt: nil, by: nil).key
        _ = try await h.hitl(.post, "/api/v1/reviews", token: otherKey, body: HITLRouterTests.transfer)
        try await Task.sleep(for: .milliseconds(300))
        #expect(await receiver.received.count == 2)
        #expect(try await h.hitl(.delete, "/api/v1/webhooks/\(hookId)", token: otherKey).status == .notFound)
        #expect(try await h.hitl(.delete, "/api/v1/webhooks/\(hookId)").status == .noContent)
        running.cancel()
    }

    @Test func replicasDeliverEachChangeOnceAndTakeOverADeadReplicasChanges() async throws {
        let store = InMemoryWebhookRepository(shared: true)
        let port = Int.random(in: 20_200..<20_500)
        let request = try await Self.requestWithWebhook(in: store, port: port)
        // Replica A queues the change while nothing listens; its next attempt is a minute away.
        // Leases of 3 s: long enough that a loaded machine cannot let A's lapse between two steps.
        let a = WebhookDispatcher(repository: store, backoff: [.seconds(60)], timeout: 1, lease: .seconds(3), allowsPrivateNetworks: true)
        await a.notify(request, policy: ReviewPolicy())
        var deadline = ContinuousClock.now + .seconds(60)
        while await store.outbox().first?.attempts != 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }

        let (receiver, stopReceiver) = try await Self.acceptingReceiver(port: port)

        // Replica B starts while A lives and renews: A's change is not B's to deliver. Its delivery
        // may wait long for an answer: on a loaded machine a first connection can take seconds, and
        // a delivery that timed out after the receiver took it is (rightly) delivered again.
        let b = WebhookDispatcher(repository: store, backoff: [.milliseconds(50)], timeout: 20, lease: .seconds(3), allowsPrivateNetworks: true)
        try await a.maintain()
        try await b.resume()
        try await b.maintain()
        try await Task.sleep(for: .milliseconds(300))
        #expect(await receiver.received.isEmpty)
        #expect(await store.outbox().count == 1)

        // A dies (it renews no more): once its claim runs out, B takes the change up, once.
        try await Task.sleep(for: .milliseconds(3_100))
        try await b.maintain()
        try await b.maintain()
        deadline = ContinuousClock.now + .seconds(60)
        while await !store.outbox().isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        try await b.maintain()
        try await Task.sleep(for: .milliseconds(300))
        #expect(await store.outbox().isEmpty)
        #expect(await receiver.received.count == 1)
        await stopReceiver()
    }

    @Test func undeliveredChangesSurviveARestart() async throws {
        let store = InMemoryWebhookRepository()
        let port = Int.random(in: 19_900..<20_200)
        let request = try await Self.requestWithWebhook(in: store, port: port)
        // Nothing listens yet: the first attempt fails, and the next is a minute away when the server stops.
        let before = WebhookDispatcher(repository: store, backoff: [.seconds(60)], timeout: 1, allowsPrivateNetworks: true)
        await before.notify(request, policy: ReviewPolicy())
        // Generous waits: the whole suite starts at once, and a first connection can take seconds then.
        var deadline = ContinuousClock.now + .seconds(60)
        while await store.outbox().first?.attempts != 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(await store.outbox().map(\.attempts) == [1])

        let (receiver, stopReceiver) = try await Self.acceptingReceiver(port: port)
        // The restarted server takes the outbox up again.
        let after = WebhookDispatcher(repository: store, backoff: [.milliseconds(50)], timeout: 1, allowsPrivateNetworks: true)
        try await after.resume()
        deadline = ContinuousClock.now + .seconds(60)
        while await !store.outbox().isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(await store.outbox().isEmpty)
        #expect(await receiver.received.count == 1)
        let log = await store.deliveries(webhookId: "whk_1", limit: 10)
        #expect(log.map(\.attempt).sorted() == [1, 2])
        #expect(log.contains { $0.attempt == 2 && $0.succeeded })
        await stopReceiver()
    }

    /// An agent chooses its webhook's URL and the server makes the request, so by default a webhook
    /// cannot reach the deployment's own network: loopback, private, shared, link-local (the cloud
    /// metadata address) and unspecified addresses, written as names, IPv4 or IPv6. Nothing is stored.
    @Test func aDefaultDeploymentRefusesWebhooksIntoItsOwnNetwork() async throws {
        let h = try await Harness(allowsPrivateWebhooks: false)
        for url in [
            "http://127.0.0.1:8080/h", "http://localhost/h", "http://10.0.0.5/h", "http://172.20.0.1/h", "http://192.168.1.10/h",
            "http://100.64.0.1/h", "http://169.254.169.254/latest/meta-data", "http://0.0.0.0/h", "http://[::1]/h",
            "http://[::ffff:127.0.0.1]/h", "http://[fd00::1]/h", "http://[fe80::1]/h", "http://2130706433/h",
        ] {
            let response = try await h.hitl(.post, "/api/v1/webhooks", body: #"{"url": "\#(url)"}"#)
            #expect(response.status == .badRequest, "\(url)")
            #expect(response.json["error"]["code"] == "webhook_destination_refused", "\(url): \(response.json)")
        }
        #expect(try await h.hitl(.get, "/api/v1/webhooks").json["webhooks"] == [])
        // A public address is accepted (written as an address: the tests have no DNS to the outside).
        #expect(try await h.hitl(.post, "/api/v1/webhooks", body: #"{"url": "https://93.184.216.34/hook"}"#).status == .created)
    }

    @Test func privateNetworksAreAllowedOnlyByConfiguration() throws {
        var c = ServerConfiguration()
        #expect(!c.webhooksAllowPrivateNetworks)
        try c.apply(yaml: "webhooks:\n  allow_private_networks: true\n", file: "acgs.yaml")
        #expect(c.webhooksAllowPrivateNetworks)
        try c.apply(environment: ["ACGS_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "false"])
        #expect(!c.webhooksAllowPrivateNetworks)
        #expect(throws: ServerConfiguration.Error.self) { try c.apply(environment: ["ACGS_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "sometimes"]) }
    }

    /// The destination is checked again at each delivery (a name may resolve elsewhere later), and a
    /// redirect is not followed: it could lead a delivery where the check would refuse it.
    @Test func deliveriesAreCheckedAgainAndRedirectsAreNotFollowed() async throws {
        let port = Int.random(in: 20_500..<20_800)
        let (receiver, stopReceiver) = try await Self.acceptingReceiver(port: port)
        let refused = InMemoryWebhookRepository()
        let request = try await Self.requestWithWebhook(in: refused, port: port)
        await WebhookDispatcher(repository: refused, backoff: [], timeout: 5).notify(request, policy: ReviewPolicy())
        var deadline = ContinuousClock.now + .seconds(60)
        while await refused.deliveries(webhookId: "whk_1", limit: 10).isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let log = await refused.deliveries(webhookId: "whk_1", limit: 10)
        #expect(log.count == 1 && log.first?.succeeded == false)
        #expect(log.first?.error?.contains("loopback") == true, "\(log)")

        let redirected = InMemoryWebhookRepository()
        _ = try await Self.requestWithWebhook(in: redirected, port: port, path: "/moved")
        await WebhookDispatcher(repository: redirected, backoff: [], timeout: 20, allowsPrivateNetworks: true).notify(request, policy: ReviewPolicy())
        deadline = ContinuousClock.now + .seconds(60)
        while await redirected.deliveries(webhookId: "whk_1", limit: 10).isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let redirect = await redirected.deliveries(webhookId: "whk_1", limit: 10)
        #expect(redirect.first?.status == 307 && redirect.first?.succeeded == false, "\(redirect)")
        try await Task.sleep(for: .milliseconds(300))
        #expect(await receiver.received.isEmpty)
        await stopReceiver()
    }

    @Test(arguments: [
        #"{"url": "ftp://example.com/hook"}"#, #"{"url": "not a url"}"#, #"{"url": "https://example.com/h", "secret": "short"}"#,
        #"{"url": "https://example.com/h", "colour": 1}"#, #"{}"#,
    ])
    func badRegistrationsAre400(body: String) async throws {
        let h = try await Harness()
        let response = try await h.hitl(.post, "/api/v1/webhooks", body: body)
        #expect(response.status == .badRequest, "\(response.json)")
    }

    @Test func anAgentRegistersOnlyForItself() async throws {
        let h = try await Harness()
        let response = try await h.hitl(.post, "/api/v1/webhooks", body: #"{"url": "https://example.com/h", "agent_id": "agt_someone_else"}"#)
        #expect(response.status == .forbidden)
    }
}
