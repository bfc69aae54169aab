import Synchronization

/// A write already handed to its store, whose outcome is awaited later: a caller starts it, does
/// other work (an audit append, say), then waits for both, without a task of its own for the write.
public final class PendingWrite: Sendable {
    private enum State {
        case running(waiter: CheckedContinuation<Void, any Error>?)
        case finished(Result<Void, any Error>)
    }

    private let state = Mutex(State.running(waiter: nil))

    /// A write the store finishes by calling `finish`.
    public init() {}

    /// A write run as its own task: for stores that have no way to start one without awaiting it.
    public convenience init(_ write: @escaping @Sendable () async throws -> Void) {
        self.init()
        Task { [self] in
            do {
                try await write()
                finish(.success(()))
            } catch {
                finish(.failure(error))
            }
        }
    }

    /// Records the outcome and wakes the waiter, if any; only the first outcome counts.
    public func finish(_ result: Result<Void, any Error>) {
        let waiter: CheckedContinuation<Void, any Error>? = state.withLock { state in
            guard case .running(let waiter) = state else { return nil }
            state = .finished(result)
            return waiter
        }
        waiter?.resume(with: result)
    }

    /// Returns once the write is done; throws its error. One waiter at a time.
    public func value() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let finished: Result<Void, any Error>? = state.withLock { state in
                switch state {
                case .finished(let result): return result
                case .running(let waiter):
                    precondition(waiter == nil, "a pending write has one waiter")
                    state = .running(waiter: continuation)
                    return nil
                }
            }
            if let finished { continuation.resume(with: finished) }
        }
    }
}
