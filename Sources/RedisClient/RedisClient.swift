import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A Redis client for a whole application: commands are shared round-robin over a small pool of
/// connections, each made when first needed and made again when it breaks. While the server is
/// down, calls fail fast with a `RedisError`; once it is back, the client recovers by itself.
///
/// Run it in a `ServiceGroup` to keep its health current (it pings the server now and then) and
/// to close its connections on shutdown; without a group, call `shutdown()` when done.
public final class RedisClient: Service, Sendable {
    public let configuration: RedisConfiguration
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    private let pool: ConnectionPool
    private let health = HealthStatus()
    let subscriptions = NIOLockedValueBox(Subscriptions())

    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "redis")
    ) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        pool = ConnectionPool(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// A client for `redis://[[username]:password@]host[:port][/database]`, with default timeouts.
    public convenience init(
        url: String,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "redis")
    ) throws(RedisError) {
        self.init(configuration: try RedisConfiguration(url: url), eventLoopGroup: eventLoopGroup, logger: logger)
    }

    // MARK: Health

    /// True when the last exchange with the server worked. False before the first one.
    public var isHealthy: Bool { health.isHealthy }

    /// The failure the client is degraded by; `nil` while healthy or before the first exchange.
    public var lastError: RedisError? { health.lastError }

    // MARK: Commands

    /// Sends one command, such as `["SET", "key", "value"]`, and returns its reply. An error reply
    /// is thrown as `RedisError.server`.
    @discardableResult
    public func send(_ command: [String]) async throws(RedisError) -> RESPValue {
        try await send(RESPValue.command(command))
    }

    /// Sends one command whose arguments are raw bytes.
    @discardableResult
    public func send(_ command: [ByteBuffer]) async throws(RedisError) -> RESPValue {
        try await send(RESPValue.command(command))
    }

    /// Sends the commands in one write on one connection, and returns their replies in order.
    /// Error replies are returned as `.error`, not thrown: the other commands ran all the same.
    public func pipeline(_ commands: [[String]]) async throws(RedisError) -> [RESPValue] {
        try await exchange(commands.map { RESPValue.command($0) })
    }

    public func pipeline(_ commands: [[ByteBuffer]]) async throws(RedisError) -> [RESPValue] {
        try await exchange(commands.map { RESPValue.command($0) })
    }

    private func send(_ command: RESPValue) async throws(RedisError) -> RESPValue {
        let reply = try await exchange([command])[0]
        if case .error(let message) = reply { throw .server(message) }
        return reply
    }

    private func exchange(_ commands: [RESPValue]) async throws(RedisError) -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        do {
            let replies = try await pool.connection().pipeline(commands)
            if health.recordSuccess() { logger.info("Redis is available again") }
            return replies
        } catch {
            if error.isConnectionFailure, health.recordFailure(error) {
                logger.warning("Redis is unavailable", metadata: ["error": "\(error)"])
            }
            throw error
        }
    }

    // MARK: Lifecycle

    /// Pings the server every `healthCheckInterval` until graceful shutdown or cancellation, then
    /// closes every connection and ends every subscription.
    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            // A failure is recorded in the health status; the service itself keeps running.
            try? await ping()
            let interval = configuration.healthCheckInterval
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                break
            }
        }
        await shutdown()
    }

    /// Closes every connection and ends every subscription. Later calls fail with `.clientClosed`.
    public func shutdown() async {
        let subscribers = subscriptions.withLockedValue { $0.close() }
        subscribers.forEach { $0.cancel() }
        await pool.close()
        for subscriber in subscribers { await subscriber.value }
    }
}
