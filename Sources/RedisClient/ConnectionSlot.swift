import Logging
import NIOConcurrencyHelpers
import NIOCore

/// One place in the client's pool. It connects when first used, and again when its connection is
/// found broken. After a failed connect it waits out a backoff, during which callers fail at once
/// with the last error: a down server is not hammered, and no caller hangs on it.
final class ConnectionSlot: Sendable {
    private enum State {
        case idle(failures: Int, retryAt: ContinuousClock.Instant?, lastError: RedisError?)
        /// Callers that arrive during a connect wait for that connect rather than start another.
        case connecting(EventLoopFuture<RedisConnection>)
        case connected(RedisConnection)
        case closed
    }

    private enum Step {
        case use(RedisConnection)
        case wait(EventLoopFuture<RedisConnection>)
        case connect(EventLoopPromise<RedisConnection>, failures: Int)
        case fail(RedisError)
    }

    private let state = NIOLockedValueBox(State.idle(failures: 0, retryAt: nil, lastError: nil))
    private let configuration: RedisConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger

    init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// The current connection, if it is up; never connects.
    var liveConnection: RedisConnection? {
        state.withLockedValue { state in
            if case .connected(let connection) = state, connection.isActive { return connection }
            return nil
        }
    }

    /// Ends a backoff early: another slot just connected, so the server is back.
    func retryNow() {
        state.withLockedValue { state in
            if case .idle = state { state = .idle(failures: 0, retryAt: nil, lastError: nil) }
        }
    }

    /// A live connection: the current one, or a new one (`isNew`).
    func connection() async throws(RedisError) -> (connection: RedisConnection, isNew: Bool) {
        let step = state.withLockedValue { state -> Step in
            if case .connected(let connection) = state, !connection.isActive {
                // A connection that was up and dropped is replaced at once; backoff follows failed connects only.
                state = .idle(failures: 0, retryAt: nil, lastError: nil)
            }
            switch state {
            case .connected(let connection):
                return .use(connection)
            case .connecting(let connected):
                return .wait(connected)
            case .closed:
                return .fail(.clientClosed)
            case .idle(let failures, let retryAt, let lastError):
                if let retryAt, let lastError, ContinuousClock.now < retryAt { return .fail(lastError) }
                let promise = eventLoopGroup.any().makePromise(of: RedisConnection.self)
                state = .connecting(promise.futureResult)
                return .connect(promise, failures: failures)
            }
        }
        switch step {
        case .use(let connection):
            return (connection, false)
        case .fail(let error):
            throw error
        case .wait(let connected):
            do {
                return (try await connected.get(), false)
            } catch {
                throw error as? RedisError ?? .connectionClosed
            }
        case .connect(let promise, let failures):
            return (try await connect(fulfilling: promise, failuresSoFar: failures), true)
        }
    }

    private func connect(fulfilling promise: EventLoopPromise<RedisConnection>, failuresSoFar: Int) async throws(RedisError) -> RedisConnection {
        let connection: RedisConnection
        do {
            connection = try await RedisConnection.connect(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
        } catch {
            let failures = failuresSoFar + 1
            let delay = configuration.reconnectBackoff.delay(afterFailures: failures)
            state.withLockedValue { state in
                if case .closed = state { return }
                state = .idle(failures: failures, retryAt: .now + delay, lastError: error)
            }
            logger.debug("Redis connect failed", metadata: ["error": "\(error)", "redis.retry_in": "\(delay)"])
            promise.fail(error)
            throw error
        }
        let closedMeanwhile = state.withLockedValue { state in
            if case .closed = state { return true }
            state = .connected(connection)
            return false
        }
        if closedMeanwhile {
            await connection.close()
            promise.fail(RedisError.clientClosed)
            throw .clientClosed
        }
        promise.succeed(connection)
        return connection
    }

    /// Closes the connection; the slot refuses every later use.
    func close() async {
        let current = state.withLockedValue { state -> RedisConnection? in
            defer { state = .closed }
            if case .connected(let connection) = state { return connection }
            return nil
        }
        await current?.close()
    }
}
