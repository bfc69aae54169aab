import AuditLog
import Foundation

/// Appends to the audit log. Concurrent appends are group-committed: one transaction and one flush
/// for every request waiting, so the decision path keeps its latency budget. `append` returns only
/// once the entry is durable, with its index; when the store cannot take it, it throws and nothing
/// was recorded.
///
/// The writer keeps the tree's frontier (O(log n) hashes) in memory and writes each new leaf hash and
/// completed subtree hash with the entries, so proofs never need the whole tree.
public final class AuditLogWriter: Sendable {
    public let repository: any AuditRepository
    private let state: AuditTreeState
    private let committer: GroupCommitter<[AuditEvent], [Int]>

    private init(repository: any AuditRepository, state: AuditTreeState) {
        self.repository = repository
        self.state = state
        self.committer = GroupCommitter.staging { groups in try await state.stage(groups) }
    }

    /// Opens the log as the store holds it.
    public static func open(repository: any AuditRepository, now: @escaping @Sendable () -> Date = Date.init) async throws -> AuditLogWriter {
        let state = AuditTreeState(repository: repository, now: now)
        try await state.reload()
        return AuditLogWriter(repository: repository, state: state)
    }

    /// Appends one event; returns its index once it is durable.
    public func append(_ event: AuditEvent) async throws -> Int {
        try await append([event])[0]
    }

    /// Appends events together, at consecutive indices, all or none.
    public func append(_ events: [AuditEvent]) async throws -> [Int] {
        guard !events.isEmpty else { return [] }
        var attempts = 0
        while true {
            do {
                return try await committer.submit(events)
            } catch let error as AuditStoreError where error == .earlierAppendFailed || error == .indexTaken {
                // Nothing of this batch was written: it was built on a tree that turned out wrong (a
                // batch before it failed, or another process appended first). The next batch is
                // built on the tree as stored.
                attempts += 1
                if attempts >= 16 { throw error }
            }
        }
    }

    /// The size and root of the durable log as this writer knows it.
    public func head() async -> (size: Int, root: [UInt8]) {
        await state.durable
    }

    /// Whether other processes append to the same store (replicas on PostgreSQL).
    public var isShared: Bool { repository is any SharedAuditRepository }

    /// The size and root of the durable log: what a tree head may be signed over. On a shared store,
    /// the log as stored, other replicas' entries included.
    public func storedHead() async throws -> (size: Int, root: [UInt8]) {
        guard isShared else { return await head() }
        let tree = try await AuditTreeState.stored(in: repository)
        return (tree.size, tree.root)
    }
}

/// The tree's frontier and the batch commit. Batches are built one at a time (the group committer
/// stages one batch at a time); on a store that queues them (`PipelinedAuditRepository`) the next is
/// built on the tree this one leaves and queued while this one commits. `durable` moves only once a
/// batch is committed, so a head is never signed over entries that could still be lost.
actor AuditTreeState {
    private let repository: any AuditRepository
    /// The same store, when it queues batches.
    private let pipelined: (any PipelinedAuditRepository)?
    private let now: @Sendable () -> Date
    /// The tree after every batch built so far.
    private var tree = IncrementalMerkleTree(store: SubtreeHashBuffer())
    /// The tree after the last batch known to be committed. Its root is folded when asked for
    /// (about once a second, to sign a head), not after every batch.
    private var durableTree = IncrementalMerkleTree(store: SubtreeHashBuffer())
    var durable: (size: Int, root: [UInt8]) { (durableTree.size, durableTree.root) }
    /// Set when a commit failed: whether it reached the disk is unknown, so the state is read again.
    private var stale = false
    /// Counts the reloads: the batches queued on one tree share a generation, so that when one of
    /// them fails, the store refuses the ones queued after it.
    private var generation = 0
    private let chain = AuditAppendChain()

    init(repository: any AuditRepository, now: @escaping @Sendable () -> Date) {
        self.repository = repository
        self.pipelined = repository as? any PipelinedAuditRepository
        self.now = now
    }

    /// Reads the size and frontier back from the store.
    func reload() async throws {
        tree = try await Self.stored(in: repository)
        durableTree = tree
        stale = false
        generation += 1
    }

    /// The tree as the store holds it now.
    static func stored(in repository: any AuditRepository) async throws -> IncrementalMerkleTree<SubtreeHashBuffer> {
        try await treeAsStored(size: try await repository.size(), nodes: { try await repository.nodes($0) })
    }

    /// Builds the batch and queues it on a pipelined store, returning what awaits its commit; on
    /// another store, writes it and returns its indices.
    func stage(_ groups: [[AuditEvent]]) async throws -> @Sendable () async throws -> [[Int]] {
        guard let pipelined else {
            let indices = try await commit(groups)
            return { indices }
        }
        if stale { try await reload() }
        var next = tree
        let (batch, indices) = try Self.build(groups, on: &next, milliseconds: AuditClock.milliseconds(now()))
        let generation = self.generation
        let pending = pipelined.beginAppend(batch, generation: generation, chain: chain)
        let after = next
        tree = after
        return { [self] in
            do {
                try await pending.value()
            } catch {
                await failed(generation)
                throw error
            }
            await committed(after)
            return indices
        }
    }

    private func failed(_ generation: Int) {
        // A failure of an earlier generation was already answered by a reload.
        if generation == self.generation { stale = true }
    }

    private func committed(_ after: IncrementalMerkleTree<SubtreeHashBuffer>) {
        // Batches commit in the order they were queued, but their waiters may come back in any order.
        if after.size > durableTree.size { durableTree = after }
    }

    func commit(_ groups: [[AuditEvent]]) async throws -> [[Int]] {
        if let shared = repository as? any SharedAuditRepository { return try await commitShared(groups, to: shared) }
        if stale { try await reload() }
        do {
            return try await write(groups)
        } catch {
            // Another process appended first (an offline command beside the server), or the write
            // failed: the next batch is built on the tree as stored (`AuditLogWriter.append` retries).
            stale = true
            throw error
        }
    }

    private func write(_ groups: [[AuditEvent]]) async throws -> [[Int]] {
        var next = tree
        let (batch, indices) = try Self.build(groups, on: &next, milliseconds: AuditClock.milliseconds(now()))
        try await repository.append(batch)
        tree = next
        durableTree = next
        return indices
    }

    /// Several replicas append to one store: the entries get their indices while this writer holds
    /// the store's append lock, built on the tree as stored at that moment, so that replicas take
    /// turns instead of colliding.
    private func commitShared(_ groups: [[AuditEvent]], to shared: any SharedAuditRepository) async throws -> [[Int]] {
        // Most often no other replica appended since this one last did: one round trip, on the tree
        // as this writer knows it. Otherwise the store refuses it whole, and the batch is built again
        // under the lock on the tree as stored.
        if !stale {
            do {
                return try await write(groups)
            } catch AuditStoreError.indexTaken {
                stale = true
            } catch {
                // Whether it reached the store is unknown: read the tree again next time.
                stale = true
                throw error
            }
        }
        let now = self.now
        do {
            let (next, indices) = try await shared.appendExclusively { size, nodes in
                var next = try await Self.treeAsStored(size: size, nodes: nodes)
                let (batch, indices) = try Self.build(groups, on: &next, milliseconds: AuditClock.milliseconds(now()))
                return (batch, (next, indices))
            }
            tree = next
            durableTree = next
            stale = false
            return indices
        } catch {
            stale = true
            throw error
        }
    }

    /// The tree at `size`, rebuilt from the stored frontier.
    static func treeAsStored(
        size: Int, nodes: ([SubtreeID]) async throws -> [SubtreeID: [UInt8]]
    ) async throws -> IncrementalMerkleTree<SubtreeHashBuffer> {
        let frontier = MerkleProofLayout.frontier(treeSize: size)
        let stored = try await nodes(frontier)
        guard stored.count == frontier.count else {
            throw AuditStoreError.corrupt("the stored tree lacks subtree hashes of its frontier at size \(size)")
        }
        return try IncrementalMerkleTree(store: SubtreeHashBuffer(known: stored), size: size)
    }

    /// The entries of `groups` at the next indices of `tree`, which it extends, with the subtree
    /// hashes they complete.
    static func build(
        _ groups: [[AuditEvent]], on tree: inout IncrementalMerkleTree<SubtreeHashBuffer>, milliseconds: Int64
    ) throws -> (AuditAppendBatch, [[Int]]) {
        let timestamp = AuditClock.format(milliseconds: milliseconds)
        var entries: [StoredAuditEntry] = []
        var indices: [[Int]] = []
        indices.reserveCapacity(groups.count)
        for group in groups {
            var groupIndices: [Int] = []
            groupIndices.reserveCapacity(group.count)
            for event in group {
                let entry = AuditEntry(index: tree.size, timestamp: timestamp, event: event)
                let text = entry.text
                try tree.append(leafHash: MerkleHash.leaf(utf8: text))
                entries.append(
                    StoredAuditEntry(
                        index: entry.index, timestampMilliseconds: milliseconds, type: event.type, actor: event.actor,
                        subject: event.subjects.first, outcome: event.outcome, text: text))
                groupIndices.append(entry.index)
            }
            indices.append(groupIndices)
        }
        let nodes = tree.withStore { $0.takeWritten() }
        return (AuditAppendBatch(entries: entries, nodes: nodes), indices)
    }
}
