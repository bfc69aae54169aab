import Logging
import RedisClient
import TestServers
import Testing

/// Settings that make failures show within a test's few seconds: short waits, quick retries.
func testConfiguration(_ server: RedisServer, database: Int = 0, password: String? = nil) throws -> RedisConfiguration {
    var configuration = try RedisConfiguration(url: server.url(database: database))
    if let password { configuration.password = password }
    configuration.connectTimeout = .seconds(1)
    configuration.commandTimeout = .seconds(1)
    configuration.reconnectBackoff = .init(initial: .milliseconds(20), maximum: .milliseconds(200))
    return configuration
}

/// Runs `body` with a client, shut down afterwards even when `body` throws.
func withClient<T: Sendable>(
    _ configuration: RedisConfiguration, _ body: (RedisClient) async throws -> T
) async throws -> T {
    let client = RedisClient(configuration: configuration, logger: Logger(label: "redis-test"))
    do {
        let result = try await body(client)
        await client.shutdown()
        return result
    } catch {
        await client.shutdown()
        throw error
    }
}

/// A fresh server and a client of it.
func withRedis<T: Sendable>(
    password: String? = nil, _ body: (RedisServer, RedisClient) async throws -> T
) async throws -> T {
    try await RedisServer.withServer(password: password) { server in
        try await withClient(try testConfiguration(server)) { client in try await body(server, client) }
    }
}

/// Collects what a subscription yields, so tests can wait for events with a deadline.
actor Inbox {
    private(set) var events: [RedisMessage] = []
    private(set) var finished = false

    func append(_ event: RedisMessage) { events.append(event) }
    func finish() { finished = true }
    func count(of event: RedisMessage) -> Int { events.filter { $0 == event }.count }
    var disconnections: Int {
        events.filter { if case .disconnected = $0 { true } else { false } }.count
    }

    /// Reads `stream` in a task of its own until it ends or the task is cancelled.
    static func collecting(_ stream: AsyncStream<RedisMessage>) -> (Inbox, Task<Void, Never>) {
        let inbox = Inbox()
        let task = Task {
            for await event in stream { await inbox.append(event) }
            await inbox.finish()
        }
        return (inbox, task)
    }
}
