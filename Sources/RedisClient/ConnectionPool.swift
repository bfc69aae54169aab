import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The client's connections, taken in turn. A slot that cannot connect does not fail its caller
/// while another slot has a live connection, and the first slot to connect after an outage ends
/// the others' backoff, so the whole pool comes back with the server.
final class ConnectionPool: Sendable {
    private let slots: [ConnectionSlot]
    private let nextSlot = NIOLockedValueBox(0)

    init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        precondition(configuration.poolSize >= 1, "a Redis client needs at least one connection")
        slots = (0..<configuration.poolSize).map { _ in
            ConnectionSlot(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
        }
    }

    func connection() async throws(RedisError) -> RedisConnection {
        let slot = takeSlot()
        do {
            let (connection, isNew) = try await slot.connection()
            if isNew {
                for other in slots where other !== slot { other.retryNow() }
            }
            return connection
        } catch {
            if error != .clientClosed, let live = slots.lazy.compactMap(\.liveConnection).first { return live }
            throw error
        }
    }

    func close() async {
        for slot in slots { await slot.close() }
    }

    private func takeSlot() -> ConnectionSlot {
        let index = nextSlot.withLockedValue { next in
            defer { next = (next + 1) % slots.count }
            return next
        }
        return slots[index]
    }
}
