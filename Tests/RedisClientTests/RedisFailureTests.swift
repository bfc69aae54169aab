import Logging
import RedisClient
import ServiceLifecycle
import TestServers
import Testing

@Suite("Timeouts, outages and recovery")
struct RedisFailureTests {
    /// A failure on a refused or closed connection, which comes at once, not by waiting out a timeout.
    static func failedAtOnce(_ error: RedisError) -> Bool {
        switch error {
        case .connectionClosed: true
        case .connectionFailed(let reason): reason.hasSuffix("connection refused")
        default: false
        }
    }

    @Test("a server that does not answer: the command times out, and the pool is not poisoned")
    func commandTimeout() async throws {
        try await RedisServer.withServer { server in
            // The keys are written with the default timeout: the whole suite at once can make a
            // healthy server take longer than the short one below.
            try await withClient(try testConfiguration(server)) { client in
                for n in 0..<2 { try await client.set("k\(n)", "v\(n)") }
            }
            var configuration = try testConfiguration(server)
            configuration.commandTimeout = .milliseconds(300)
            configuration.poolSize = 2
            try await withClient(configuration) { client throws in
                await server.pause()
                // The error names the deadline that ended the call: no hang. How late the deadline
                // fired is not checked, because the whole suite shares two cores with it.
                let error = await #expect(throws: RedisError.self) { _ = try await client.get("k0") }
                await server.resume()
                #expect(error == .timeout(.milliseconds(300)))
                #expect(!client.isHealthy)
                #expect(client.lastError == .timeout(.milliseconds(300)))

                // The late reply to the timed-out GET must not be taken for another command's.
                for round in 0..<6 {
                    for n in 0..<2 { #expect(try await client.get("k\(n)") == "v\(n)", "round \(round)") }
                }
                #expect(client.isHealthy)
            }
        }
    }

    @Test("a connection whose command timed out is closed")
    func timedOutConnectionCloses() async throws {
        try await RedisServer.withServer { server in
            var configuration = try testConfiguration(server)
            configuration.commandTimeout = .milliseconds(200)
            let connection = try await RedisConnection.connect(configuration: configuration)
            await server.pause()
            let error = await #expect(throws: RedisError.self) { try await connection.send(["PING"]) }
            await server.resume()
            #expect(error == .timeout(.milliseconds(200)))
            try await waitUntil("the connection is closed", timeout: .seconds(10)) { !connection.isActive }
            // Refused by the closed connection, not left to time out.
            let afterwards = await #expect(throws: RedisError.self) { try await connection.send(["PING"]) }
            #expect(afterwards == .connectionClosed)
        }
    }

    @Test("Redis killed: calls fail fast; restarted on the same port: the same client works again")
    func killAndRestart() async throws {
        try await RedisServer.withServer { server in
            try await withClient(try testConfiguration(server)) { client in
                for n in 0..<8 { try await client.set("k\(n)", "v") }  // every pooled connection is up
                #expect(client.isHealthy)

                await server.kill()
                // Each call fails on the closed or refused connection, never by waiting out a timeout.
                for _ in 0..<20 {
                    let error = await #expect(throws: RedisError.self) { try await client.ping() }
                    #expect(error.map(Self.failedAtOnce) == true, "\(String(describing: error))")
                }
                #expect(!client.isHealthy)
                switch client.lastError {
                case .connectionFailed?, .connectionClosed?: break
                case let other: Issue.record("unexpected last error \(String(describing: other))")
                }

                try await server.restart()
                try await waitUntil("the client reconnects") { (try? await client.ping()) != nil }
                // Every pooled connection recovers, not only one.
                for n in 0..<8 { try await client.set("k\(n)", "again") }
                #expect(client.isHealthy)
                #expect(client.lastError == nil)
            }
        }
    }

    @Test("no server at all: a clear connection error at once")
    func nothingListening() async throws {
        let server = try await RedisServer.start()
        let configuration = try testConfiguration(server)
        await server.stop()
        try await withClient(configuration) { client in
            let error = await #expect(throws: RedisError.self) { try await client.ping() }
            guard case .connectionFailed(let reason)? = error else {
                Issue.record("expected a connection failure, got \(String(describing: error))")
                return
            }
            // Refused by the kernel at once, not a connect timeout.
            #expect(reason == "127.0.0.1:\(server.port): connection refused")
        }
    }

    @Test("as a service: healthy while running, closed after graceful shutdown")
    func service() async throws {
        try await RedisServer.withServer { server in
            let client = RedisClient(configuration: try testConfiguration(server), logger: Logger(label: "redis-test"))
            let group = ServiceGroup(services: [client], logger: Logger(label: "redis-test"))
            let running = Task { try await group.run() }
            try await waitUntil("the first health check") { client.isHealthy }
            let messages = client.subscribe(channels: ["events"])
            await group.triggerGracefulShutdown()
            try await running.value
            for await _ in messages {}  // ends: shutdown ends subscriptions
            await #expect(throws: RedisError.clientClosed) { try await client.ping() }
        }
    }
}
