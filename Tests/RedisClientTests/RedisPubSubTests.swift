import RedisClient
import TestServers
import Testing

@Suite("Publish and subscribe")
struct RedisPubSubTests {
    @Test("messages on each subscribed channel arrive, others do not")
    func delivery() async throws {
        try await withRedis { _, client in
            let (inbox, reader) = Inbox.collecting(client.subscribe(channels: ["decisions", "policies"]))
            defer { reader.cancel() }
            try await waitUntil("subscribed") { await inbox.count(of: .subscribed) == 1 }

            #expect(try await client.publish(channel: "decisions", message: "d1") == 1)
            #expect(try await client.publish(channel: "other", message: "x") == 0)
            #expect(try await client.publish(channel: "policies", message: "p1") == 1)
            try await waitUntil("both messages arrive") { await inbox.events.count == 3 }
            #expect(
                await inbox.events == [
                    .subscribed, .message(channel: "decisions", payload: "d1"), .message(channel: "policies", payload: "p1"),
                ])
        }
    }

    @Test("after a server restart the subscription comes back by itself, and says so")
    func resubscribesAfterRestart() async throws {
        try await withRedis { server, client in
            let (inbox, reader) = Inbox.collecting(client.subscribe(channels: ["decisions"]))
            defer { reader.cancel() }
            try await waitUntil("subscribed") { await inbox.count(of: .subscribed) == 1 }

            await server.kill()
            try await waitUntil("the drop is reported") { await inbox.disconnections == 1 }
            try await server.restart()
            try await waitUntil("resubscribed") { await inbox.count(of: .resubscribed) == 1 }

            #expect(try await client.publish(channel: "decisions", message: "after") == 1)
            try await waitUntil("the message arrives") { await inbox.count(of: .message(channel: "decisions", payload: "after")) == 1 }
            #expect(await inbox.disconnections == 1, "one outage, reported once")
        }
    }

    @Test("a silent connection (server frozen) is found by its pings and replaced")
    func silentConnection() async throws {
        try await RedisServer.withServer { server in
            var configuration = try testConfiguration(server)
            // Short enough to notice a frozen server quickly, long enough that a busy machine (the
            // whole suite runs at once) does not take a slow confirmation for silence.
            configuration.subscriptionPingInterval = .milliseconds(500)
            try await withClient(configuration) { client in
                let (inbox, reader) = Inbox.collecting(client.subscribe(channels: ["decisions"]))
                defer { reader.cancel() }
                try await waitUntil("subscribed") { await inbox.count(of: .subscribed) + inbox.count(of: .resubscribed) >= 1 }
                let resubscribedBefore = await inbox.count(of: .resubscribed)

                await server.pause()
                let found = await Result { try await waitUntil("the silence is noticed", timeout: .seconds(10)) { await inbox.disconnections >= 1 } }
                await server.resume()
                try found.get()
                try await waitUntil("resubscribed") { await inbox.count(of: .resubscribed) > resubscribedBefore }
                #expect(try await client.publish(channel: "decisions", message: "m") >= 1)
                try await waitUntil("the message arrives") { await inbox.count(of: .message(channel: "decisions", payload: "m")) >= 1 }
            }
        }
    }

    @Test("cancelling the reader ends the subscription and its connection")
    func cancellation() async throws {
        try await withRedis { _, client in
            let (inbox, reader) = Inbox.collecting(client.subscribe(channels: ["decisions"]))
            try await waitUntil("subscribed") { await inbox.count(of: .subscribed) == 1 }
            #expect(try await subscriberCount(client, "decisions") == 1)
            reader.cancel()
            await reader.value
            try await waitUntil("the server has no subscriber left") { (try? await subscriberCount(client, "decisions")) == 0 }
        }
    }

    private func subscriberCount(_ client: RedisClient, _ channel: String) async throws -> Int? {
        try await client.send(["PUBSUB", "NUMSUB", channel]).array?.last?.integer
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
