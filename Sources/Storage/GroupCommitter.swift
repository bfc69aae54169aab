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
///
/// A writer that can queue a batch before it is durable (`staging(maxBatch:_:)`) lets the lead
/// pass on once the batch is queued: the next batch is built and queued while this one commits.
public final class GroupCommitter<Item: Sendable, Output: Sendable>: Sendable {
    public typealias Writer = @Sendable ([Item]) async throws -> [Output]
    /// Queues a batch and returns what awaits its outputs.
    public typealias Stage = @Sendable ([Item]) async throws -> Staged
    public typealias Staged = @Sendable () async throws -> [Output]

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
    private let stage: Stage

    /// Batches written one at a time: the next starts once this one is written.
    public convenience init(maxBatch: Int = 500, write: @escaping Writer) {
        self.init(maxBatch: maxBatch, staging: { items in
            let outputs = try await write(items)
            return { outputs }
        })
    }

    /// Batches queued by `stage`, the next one as soon as this one is queued.
    public static func staging(maxBatch: Int = 500, _ stage: @escaping Stage) -> GroupCommitter {
        GroupCommitter(maxBatch: maxBatch, staging: stage)
    }

    private init(maxBatch: Int, staging stage: @escaping Stage) {
        precondition(maxBatch > 0, "a batch holds at least one item")
        self.maxBatch = maxBatch
        self.stage = stage
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

    /// Writes the next batch, which starts with the leader's own item, passing the lead on once the
    /// batch is queued (written, for a writer that cannot queue).
    private func lead() async throws -> Output {
        let batch = state.withLock { state in
            let batch = Array(state.pending.prefix(maxBatch))
            state.pending.removeFirst(batch.count)
            return batch
        }
        let staged: Result<Staged, any Error>
        do {
            staged = .success(try await stage(batch.map(\.item)))
        } catch {
            staged = .failure(error)
        }
        passLead()
        let outputs: Result<[Output], any Error>
        do {
            outputs = .success(try await staged.get()())
        } catch {
            outputs = .failure(error)
        }
        if case .success(let written) = outputs {
            precondition(written.count == batch.count, "a group commit writer must answer one output per item")
        }
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
