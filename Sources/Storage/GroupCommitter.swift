import Synchronization

/// Collects items submitted concurrently and writes them in batches: one transaction, one flush to
/// disk for many requests. A submitter resumes only once its item is durable (or the write failed),
/// so a caller can acknowledge a decision only after it is stored. The writer answers one output per
/// item, in order (an audit index, for example).
///
/// There is no writing task of its own: the submitter that finds nothing being written leads, that
/// is writes the batch its own item opens, passes the lead to the first item that arrived meanwhile
/// (first, so that the next write is queued before anything else), and hands each other submitter
/// of the batch its output. A batch is written on a task that waits for it anyway, with no task
/// started and no thread woken for it. The write runs in the leader's task, so a writer that stops
/// on cancellation fails the batch if that task is cancelled: Hummingbird cancels a request's task
/// only when the server itself is cancelled, not when a client goes away.
public final class GroupCommitter<Item: Sendable, Output: Sendable>: Sendable {
    public typealias Writer = @Sendable ([Item]) async throws -> [Output]

    /// What a waiting submitter is resumed with: its output, or the lead.
    private enum Turn: Sendable {
        case written(Output)
        case lead
    }

    private struct Waiter {
        let item: Item
        /// Nil for the leader's own item: its task is writing, not waiting.
        var continuation: CheckedContinuation<Turn, any Error>?
    }

    private struct State {
        var pending: [Waiter] = []
        var leading = false
    }

    // A lock rather than an actor: a submitter queues its item where it runs, with no hop to
    // another executor and back on every request.
    private let state = Mutex(State())
    private let maxBatch: Int
    private let write: Writer

    public init(maxBatch: Int = 500, write: @escaping Writer) {
        precondition(maxBatch > 0, "a batch holds at least one item")
        self.maxBatch = maxBatch
        self.write = write
    }

    /// Items submitted and not yet taken into a batch (for tests).
    var waiting: Int { state.withLock { state in state.pending.count } }

    public func submit(_ item: Item) async throws -> Output {
        let turn = try await withCheckedThrowingContinuation { continuation in
            let leads = state.withLock { state in
                guard !state.leading else {
                    state.pending.append(Waiter(item: item, continuation: continuation))
                    return false
                }
                state.leading = true
                state.pending.append(Waiter(item: item, continuation: nil))
                return true
            }
            if leads { continuation.resume(returning: .lead) }
        }
        switch turn {
        case .written(let output): return output
        case .lead: return try await lead()
        }
    }

    /// Writes the next batch, which starts with the leader's own item, then passes the lead on.
    private func lead() async throws -> Output {
        let batch = state.withLock { state in
            let batch = Array(state.pending.prefix(maxBatch))
            state.pending.removeFirst(batch.count)
            return batch
        }
        let outputs: Result<[Output], any Error>
        do {
            outputs = .success(try await write(batch.map(\.item)))
        } catch {
            outputs = .failure(error)
        }
        if case .success(let written) = outputs {
            precondition(written.count == batch.count, "a group commit writer must answer one output per item")
        }
        passLead()
        var own: Result<Output, any Error>?
        for (position, waiter) in batch.enumerated() {
            let result = outputs.map { $0[position] }
            if let continuation = waiter.continuation {
                continuation.resume(with: result.map(Turn.written))
            } else {
                own = result
            }
        }
        guard let own else { preconditionFailure("the leader's own item opens its batch") }
        return try own.get()
    }

    /// The first item that arrived during the write leads the next batch; with none, the next
    /// submitter will.
    private func passLead() {
        let next = state.withLock { state -> CheckedContinuation<Turn, any Error>? in
            guard !state.pending.isEmpty else {
                state.leading = false
                return nil
            }
            let next = state.pending[0].continuation
            state.pending[0].continuation = nil
            return next
        }
        next?.resume(returning: .lead)
    }
}
