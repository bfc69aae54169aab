/// Collects items submitted concurrently and writes them in batches: one transaction, one flush to
/// disk for many requests. A submitter resumes only once its item is durable (or the write failed),
/// so a caller can acknowledge a decision only after it is stored. The writer answers one output per
/// item, in order (an audit index, for example).
public actor GroupCommitter<Item: Sendable, Output: Sendable> {
    public typealias Writer = @Sendable ([Item]) async throws -> [Output]

    private var pending: [(item: Item, continuation: CheckedContinuation<Output, any Error>)] = []
    private var flushing = false
    private let maxBatch: Int
    private let write: Writer

    public init(maxBatch: Int = 500, write: @escaping Writer) {
        self.maxBatch = maxBatch
        self.write = write
    }

    public func submit(_ item: Item) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            pending.append((item, continuation))
            if !flushing {
                flushing = true
                // Above the request tasks it serves: behind them in the queue it would delay them all.
                Task(priority: .high) { await self.drain() }
            }
        }
    }

    /// Writes batches until nothing is pending. Items that arrive during a write form the next batch.
    private func drain() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(maxBatch))
            pending.removeFirst(batch.count)
            do {
                let outputs = try await write(batch.map(\.item))
                precondition(outputs.count == batch.count, "a group commit writer must answer one output per item")
                for (entry, output) in zip(batch, outputs) { entry.continuation.resume(returning: output) }
            } catch {
                for entry in batch { entry.continuation.resume(throwing: error) }
            }
        }
        flushing = false
    }
}

extension GroupCommitter where Output == Void {
    /// A committer whose writer has nothing to answer but success.
    public init(maxBatch: Int = 500, store: @escaping @Sendable ([Item]) async throws -> Void) {
        self.init(maxBatch: maxBatch) { (items: [Item]) async throws -> [Void] in
            try await store(items)
            return Array(repeating: (), count: items.count)
        }
    }
}
