import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One TCP connection to Redis. Commands may be sent from many tasks at once: they are pipelined,
/// and each gets its own reply.
public final class RedisConnection: Sendable {
    let channel: any Channel
    private let logger: Logger

    private init(channel: any Channel, logger: Logger) {
        self.channel = channel
        self.logger = logger
    }

    /// Connects, then logs in and selects the database the configuration names.
    public static func connect(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "redis")
    ) async throws(RedisError) -> RedisConnection {
        let commandTimeout = configuration.commandTimeout
        let bootstrap = ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(RESPDecoder()),
                        MessageToByteHandler(RESPEncoder()),
                        RedisCommandHandler(commandTimeout: commandTimeout)
                    )
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw .connectionFailed("\(configuration.host):\(configuration.port): \(Self.reason(error))")
        }
        let connection = RedisConnection(channel: channel, logger: logger)
        do {
            try await connection.logIn(configuration)
        } catch {
            await connection.close()
            throw error
        }
        logger.debug("Connected to Redis", metadata: ["redis.server": "\(configuration)"])
        return connection
    }

    /// False once the connection has failed or closed; it then answers every command with an error.
    public var isActive: Bool { channel.isActive }

    /// Sends one command and returns its reply, which may be an error reply (`.error`).
    public func send(_ command: [String]) async throws(RedisError) -> RESPValue {
        try await pipeline([RESPValue.command(command)])[0]
    }

    public func send(_ command: [ByteBuffer]) async throws(RedisError) -> RESPValue {
        try await pipeline([RESPValue.command(command)])[0]
    }

    /// Sends the commands in one write and returns their replies in order. An error reply is
    /// returned as `.error`, not thrown: the other commands of the pipeline ran all the same.
    public func pipeline(_ commands: [[String]]) async throws(RedisError) -> [RESPValue] {
        try await pipeline(commands.map { RESPValue.command($0) })
    }

    public func pipeline(_ commands: [[ByteBuffer]]) async throws(RedisError) -> [RESPValue] {
        try await pipeline(commands.map { RESPValue.command($0) })
    }

    func pipeline(_ commands: [RESPValue]) async throws(RedisError) -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        let replies = commands.map { _ in channel.eventLoop.makePromise(of: RESPValue.self) }
        // A write that never reaches the handler (the channel already closed) must still fail the
        // replies; failing a promise the handler already completed does nothing.
        channel.writeAndFlush(RedisRequest(commands: commands, replies: replies)).whenFailure { error in
            let failure = error as? RedisError ?? .connectionClosed
            replies.forEach { $0.fail(failure) }
        }
        var values: [RESPValue] = []
        values.reserveCapacity(replies.count)
        for reply in replies {
            do {
                values.append(try await reply.futureResult.get())
            } catch {
                throw error as? RedisError ?? .connectionClosed
            }
        }
        return values
    }

    public func close() async {
        try? await channel.close()
    }

    /// AUTH and SELECT in one round trip.
    private func logIn(_ configuration: RedisConfiguration) async throws(RedisError) {
        let handshake = configuration.handshake
        let replies = try await pipeline(handshake.map { RESPValue.command($0) })
        for (command, reply) in zip(handshake, replies) {
            guard case .error(let message) = reply else { continue }
            throw command[0] == "AUTH" ? .authenticationFailed(message) : .server("\(command[0]) failed: \(message)")
        }
    }

    /// The cause of a failed connect, without NIO's type names.
    static func reason(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
            return reason(first.error)
        }
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
        if case .connectTimeout(let amount)? = error as? ChannelError {
            return "connect timed out after \(Duration(amount))"
        }
        return "\(error)"
    }
}
