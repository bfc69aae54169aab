import AuditLog
import Foundation
import Synchronization

/// An audit entry as stored: its text (the canonical JSON that was hashed), the columns entries are
/// found by, and the leaf hash recorded when it was appended.
public struct StoredAuditEntry: Sendable, Equatable {
    public var index: Int
    public var timestampMilliseconds: Int64
    public var type: AuditEntryType
    public var actor: String
    /// The first of the entry's subjects (a decision's id), by which it is found.
    public var subject: String?
    /// `deny` or `escalate` for such decisions (see `AuditEvent.outcome`).
    public var outcome: String?
    public var text: String
    /// Level 0 of the stored tree; read only where it is asked for.
    public var leafHash: [UInt8]?

    public init(
        index: Int, timestampMilliseconds: Int64, type: AuditEntryType, actor: String, subject: String? = nil, outcome: String? = nil,
        text: String, leafHash: [UInt8]? = nil
    ) {
        self.outcome = outcome
        self.index = index
        self.timestampMilliseconds = timestampMilliseconds
        self.type = type
        self.actor = actor
        self.subject = subject
        self.text = text
        self.leafHash = leafHash
    }
}

/// Which entries to list: after a cursor, in index order, optionally filtered.
public struct AuditEntryQuery: Sendable, Equatable {
    /// Entries with an index greater than this; nil from the start.
    public var after: Int?
    public var limit: Int
    public var type: AuditEntryType?
    public var actor: String?
    /// Milliseconds since 1970, inclusive.
    public var since: Int64?
    /// Milliseconds since 1970, exclusive.
    public var until: Int64?

    public init(after: Int? = nil, limit: Int = 100, type: AuditEntryType? = nil, actor: String? = nil, since: Int64? = nil, until: Int64? = nil) {
        self.after = after
        self.limit = limit
        self.type = type
        self.actor = actor
        self.since = since
        self.until = until
    }
}

/// What one group commit writes, all or nothing: the entries and the subtree hashes they complete
/// (their leaf hashes included). Every subtree in `nodes` is completed by an entry of the batch: the
/// one at its last leaf.
public struct AuditAppendBatch: Sendable {
    public var entries: [StoredAuditEntry]
    public var nodes: [(SubtreeID, [UInt8])]

    public init(entries: [StoredAuditEntry], nodes: [(SubtreeID, [UInt8])]) {
        self.entries = entries
        self.nodes = nodes
    }
}

/// Where the audit log is kept: entries, the hashes of complete subtrees, and signed tree heads.
/// Entries and subtree hashes are written once and never updated. Decisions are entries, so the
/// audit repository is also where decisions are found.
public protocol AuditRepository: DecisionRepository {
    /// Stores the batch durably, all or nothing. Fails if an entry's index is already taken, so two
    /// writers can never both append at the same index.
    func append(_ batch: AuditAppendBatch) async throws
    /// The number of entries.
    func size() async throws -> Int
    /// The stored hashes of these subtrees; absent ones are missing from the answer.
    func nodes(_ ids: [SubtreeID]) async throws -> [SubtreeID: [UInt8]]
    func entries(_ query: AuditEntryQuery) async throws -> [StoredAuditEntry]
    func entry(at index: Int) async throws -> StoredAuditEntry?
    /// Entries after `after` in index order with their recorded leaf hashes, for verification.
    func scan(after: Int, limit: Int) async throws -> [StoredAuditEntry]
    func appendHead(_ head: SignedTreeHead) async throws
    func latestHead() async throws -> SignedTreeHead?
    /// Every signed head, in the order they were signed.
    func heads() async throws -> [SignedTreeHead]
    /// How many of `actor`'s decisions since `since` (milliseconds since 1970) denied and escalated.
    func decisionCounts(actor: String, since: Int64) async throws -> (denials: Int, escalations: Int)
    /// Succeeds when the store can be used now.
    func ping() async throws
}

/// An audit store that several processes append to at once (replicas sharing PostgreSQL). Entries
/// get their indices one writer at a time, under the store's append lock, so the log never forks.
public protocol SharedAuditRepository: AuditRepository {
    /// Holds the append lock while `build` runs and while what it returns is written, all or
    /// nothing. `build` receives the stored size under the lock, and reads subtree hashes through
    /// the same transaction.
    func appendExclusively<T: Sendable>(
        _ build: @escaping @Sendable (_ size: Int, _ nodes: @Sendable ([SubtreeID]) async throws -> [SubtreeID: [UInt8]]) async throws -> (
            AuditAppendBatch, T
        )
    ) async throws -> T
}

/// The audit log in memory; for tests.
public actor InMemoryAuditRepository: AuditRepository {
    private var stored: [StoredAuditEntry] = []
    private var storedNodes: [SubtreeID: [UInt8]] = [:]
    private var storedHeads: [SignedTreeHead] = []
    private var decisionIndex: [String: Int] = [:]
    /// While set, every call fails: an unavailable store.
    public var failing = false
    /// While set, appends fail and reads work: a store that went read-only.
    public var failingWrites = false

    public init() {}

    public func setFailing(_ failing: Bool) { self.failing = failing }
    public func setFailingWrites(_ failing: Bool) { self.failingWrites = failing }

    public func append(_ batch: AuditAppendBatch) async throws {
        try check()
        if failingWrites { throw AuditStoreError.unavailable }
        guard batch.entries.first.map({ $0.index == stored.count }) ?? true else { throw AuditStoreError.indexTaken }
        for entry in batch.entries where entry.type == .decision {
            if let subject = entry.subject { decisionIndex[subject] = entry.index }
        }
        stored += batch.entries.map { entry in
            var e = entry
            e.leafHash = nil
            return e
        }
        for (id, hash) in batch.nodes { storedNodes[id] = hash }
    }

    public func size() throws -> Int {
        try check()
        return stored.count
    }

    public func nodes(_ ids: [SubtreeID]) throws -> [SubtreeID: [UInt8]] {
        try check()
        return Dictionary(uniqueKeysWithValues: ids.compactMap { id in storedNodes[id].map { (id, $0) } })
    }

    public func entries(_ query: AuditEntryQuery) throws -> [StoredAuditEntry] {
        try check()
        return Array(
            stored.lazy.filter { e in
                (query.after.map { e.index > $0 } ?? true) && (query.type.map { e.type == $0 } ?? true)
                    && (query.actor.map { e.actor == $0 } ?? true) && (query.since.map { e.timestampMilliseconds >= $0 } ?? true)
                    && (query.until.map { e.timestampMilliseconds < $0 } ?? true)
            }
            .prefix(query.limit))
    }

    public func entry(at index: Int) throws -> StoredAuditEntry? {
        try check()
        return stored.indices.contains(index) ? stored[index] : nil
    }

    public func scan(after: Int, limit: Int) throws -> [StoredAuditEntry] {
        try check()
        return stored.dropFirst(max(0, after + 1)).prefix(limit).map { entry in
            var e = entry
            e.leafHash = storedNodes[SubtreeID(level: 0, index: e.index)]
            return e
        }
    }

    public func appendHead(_ head: SignedTreeHead) throws {
        try check()
        storedHeads.append(head)
    }

    public func latestHead() throws -> SignedTreeHead? {
        try check()
        return storedHeads.last
    }

    public func heads() throws -> [SignedTreeHead] {
        try check()
        return storedHeads
    }

    public func decisionCounts(actor: String, since: Int64) throws -> (denials: Int, escalations: Int) {
        try check()
        let recent = stored.filter { $0.actor == actor && $0.timestampMilliseconds >= since }
        return (recent.filter { $0.outcome == "deny" }.count, recent.filter { $0.outcome == "escalate" }.count)
    }

    public func find(id: String) throws -> DecisionRecord? {
        try check()
        return decisionIndex[id].flatMap { DecisionRecord(entry: stored[$0]) }
    }

    public func count() throws -> Int {
        try check()
        return decisionIndex.count
    }

    public func ping() throws { try check() }

    private func check() throws {
        if failing { throw AuditStoreError.unavailable }
    }
}

public enum AuditStoreError: Error, Sendable, Equatable {
    /// Another writer appended at the same index first.
    case indexTaken
    case unavailable
    /// A tree head over more entries is already stored (another replica signed it first).
    case staleHead
    /// The store lacks a subtree hash that its size says it must have.
    case corrupt(String)
    /// Not written: a batch queued before it (on whose tree it was built) failed.
    case earlierAppendFailed
}

/// A store that takes the next batch of the log while the last one still commits: the log builds
/// each batch on the tree the one before it leaves, and queues it at once, so that its own hand-offs
/// overlap the last commit instead of following it.
public protocol PipelinedAuditRepository: AuditRepository {
    /// Queues the batch, to be stored durably, all or nothing, after every batch queued before it.
    /// Refused (`earlierAppendFailed`) without writing if a batch of the same `generation` failed
    /// before it ran.
    func beginAppend(_ batch: AuditAppendBatch, generation: Int, chain: AuditAppendChain) -> PendingWrite
}

/// Which generation of a pipelined log failed last. Batches of one generation are built each on
/// the last; when one fails, the ones queued after it must fail too, or the log would have a gap.
/// The log then reads its tree back from the store and starts the next generation.
public final class AuditAppendChain: Sendable {
    private let failed = Mutex<Int?>(nil)

    public init() {}

    func refuses(_ generation: Int) -> Bool { failed.withLock { $0 == generation } }
    func fail(_ generation: Int) { failed.withLock { $0 = generation } }
}
