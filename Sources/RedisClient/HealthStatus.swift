import NIOConcurrencyHelpers

/// Whether the last exchange with Redis worked, kept where a readiness check can read it for the
/// price of a lock. Error replies count as working: the server answered.
final class HealthStatus: Sendable {
    private enum State {
        /// Nothing tried yet.
        case unknown
        case healthy
        case degraded(RedisError)
    }

    private let state = NIOLockedValueBox(State.unknown)

    var isHealthy: Bool {
        state.withLockedValue { if case .healthy = $0 { true } else { false } }
    }

    var lastError: RedisError? {
        state.withLockedValue { if case .degraded(let error) = $0 { error } else { nil } }
    }

    /// Records a success; true when it ends a degradation.
    func recordSuccess() -> Bool {
        state.withLockedValue { state in
            defer { state = .healthy }
            if case .degraded = state { return true }
            return false
        }
    }

    /// Records a failure; true when it starts a degradation.
    func recordFailure(_ error: RedisError) -> Bool {
        state.withLockedValue { state in
            defer { state = .degraded(error) }
            if case .degraded = state { return false }
            return true
        }
    }
}
