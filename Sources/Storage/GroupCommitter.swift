import Synchronization

/// Collects items submitted concurrently and writes them in batches: one transaction, one flush to
/// disk for many requests. A submitter resumes only once its item is durable (or the write failed),
/// so a caller can acknowledge a decision only after it is stored. The writer answers one output per
/// item, in order (an audit index, for example).
public final class GroupCommitter<Item: Sendable, Output: Sendable>: Sendable {
    public typealias Writer = @Sendable ([Item]) async throws -> [Output]

    private struct State {
        var pending: [(item: Item, continuation: CheckedContinuation<Output, any Error>)] = []
        var flushing = false
    }

    // A lock rather than an actor: a submitter queues its item where it runs, with no hop to
    // another executor and back on every request.
    private let state = Mutex(State())
    private let maxBatch: Int
    private let write: Writer

    public init(maxBatch: Int = 500, write: @escaping Writer) {
        self.maxBatch = maxBatch
        self.write = write
    }

    public func submit(_ item: Item) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let startDrain = state.withLock { state in
                state.pending.append((item, continuation))
                guard !state.flushing else { return false }
                state.flushing = true
                return true
            }
            // Above the request tasks it serves: behind them in the queue it would delay them all.
            if startDrain { Task(priority: .high) { await self.drain() } }
        }
    }

    /// Writes batches until nothing is pending. Items that arrive during a write form the next batch.
    private func drain() async {
        while let batch = nextBatch() {
            do {
                let outputs = try await write(batch.map(\.item))
                precondition(outputs.count == batch.count, "a group commit writer must answer one output per item")
                for (entry, output) in zip(batch, outputs) { entry.continuation.resume(returning: output) }
            } catch {
                for entry in batch { entry.continuation.resume(throwing: error) }
            }
        }
    }

    /// The next batch, or nil (and no longer flushing) when nothing is pending.
    private func nextBatch() -> [(item: Item, continuation: CheckedContinuation<Output, any Error>)]? {
        state.withLock { state in
            guard !state.pending.isEmpty else {
                state.flushing = false
                return nil
            }
            let batch = Array(state.pending.prefix(maxBatch))
            state.pending.removeFirst(batch.count)
            return batch
        }
    }
}
