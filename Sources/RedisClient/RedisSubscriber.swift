import Logging
import NIOCore
import NIOPosix

/// The loop behind a subscription: connect, log in, subscribe, pass messages on; when the
/// connection drops, wait out a backoff and start again, until the task is cancelled.
struct RedisSubscriber: Sendable {
    let channels: [String]
    let configuration: RedisConfiguration
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger

    func run(yield: (RedisMessage) -> Void) async {
        var hasSubscribed = false
        var failures = 0
        while !Task.isCancelled {
            var subscribedOnThisConnection = false
            let failure: RedisError
            do {
                try await listen { event in
                    if event == .subscribed {
                        subscribedOnThisConnection = true
                        failures = 0
                        yield(hasSubscribed ? .resubscribed : .subscribed)
                        hasSubscribed = true
                    } else {
                        yield(event)
                    }
                }
                failure = .connectionClosed
            } catch {
                failure = error
            }
            if Task.isCancelled { return }
            if subscribedOnThisConnection {
                logger.warning("Redis subscription lost; resubscribing", metadata: ["error": "\(failure)"])
                yield(.disconnected(failure))
            } else if failures == 0 {
                // Said once per outage; the retries behind it are logged at debug level.
                logger.warning("Redis subscription could not be made; retrying", metadata: ["error": "\(failure)"])
            } else {
                logger.debug("Redis subscription could not be made; retrying", metadata: ["error": "\(failure)"])
            }
            failures += 1
            let delay = configuration.reconnectBackoff.delay(afterFailures: failures)
            do {
                try await Task.sleep(for: delay)
            } catch {
                return
            }
        }
    }

    /// One connection's life. Returns when the server closes it, or the task is cancelled.
    private func listen(onEvent: (RedisMessage) -> Void) async throws(RedisError) {
        let channel = try await connect()
        do {
            try await channel.executeThenClose { inbound, outbound in
                let handshake = configuration.handshake
                // Logging in and subscribing take one round trip; the replies come back in order.
                try await outbound.write(contentsOf: (handshake + [["SUBSCRIBE"] + channels]).map { RESPValue.command($0) })
                var replies = inbound.makeAsyncIterator()
                for command in handshake {
                    guard let reply = try await replies.next() else { throw RedisError.connectionClosed }
                    if case .error(let message) = reply {
                        throw command[0] == "AUTH" ? RedisError.authenticationFailed(message) : .server("\(command[0]) failed: \(message)")
                    }
                }
                var confirmed = 0
                while let reply = try await replies.next() {
                    switch Push(reply) {
                    case .subscribeConfirmation:
                        confirmed += 1
                        if confirmed == channels.count { onEvent(.subscribed) }
                    case .message(let channel, let payload):
                        onEvent(.message(channel: channel, payload: payload))
                    case .error(let message):
                        throw RedisError.server(message)
                    case .other:
                        continue
                    }
                }
            }
        } catch {
            throw error as? RedisError ?? .connectionClosed
        }
    }

    private func connect() async throws(RedisError) -> NIOAsyncChannel<RESPValue, RESPValue> {
        let pingInterval = TimeAmount(configuration.subscriptionPingInterval)
        do {
            return try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .connect(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(RESPDecoder()),
                            MessageToByteHandler(RESPEncoder()),
                            IdleStateHandler(readTimeout: pingInterval),
                            SubscriptionKeepAliveHandler()
                        )
                        return try NIOAsyncChannel<RESPValue, RESPValue>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw .connectionFailed("\(configuration.host):\(configuration.port): \(RedisConnection.reason(error))")
        }
    }
}

/// What a subscribed connection receives, sorted.
private enum Push {
    case subscribeConfirmation
    case message(channel: String, payload: String)
    case error(String)
    /// Replies to keep-alive pings, and anything else a subscriber does not act on.
    case other

    init(_ reply: RESPValue) {
        if case .error(let message) = reply {
            self = .error(message)
            return
        }
        guard let parts = reply.array, let kind = parts.first?.string?.lowercased() else {
            self = .other
            return
        }
        switch kind {
        case "subscribe":
            self = .subscribeConfirmation
        case "message" where parts.count == 3:
            self = .message(channel: parts[1].string ?? "", payload: parts[2].string ?? "")
        default:
            self = .other
        }
    }
}
