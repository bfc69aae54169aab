/// Where an append-only Merkle tree keeps the hashes of its complete subtrees.
///
/// Only complete, aligned subtrees are stored (see `SubtreeID`): their hashes never
/// change as the log grows, so an entry is written once and never updated, and n
/// leaves need fewer than 2n entries. Level 0 holds the leaf hashes themselves.
/// A database-backed log implements this over a table keyed by `(level, index)`.
public protocol SubtreeHashStore {
    /// The stored hash of the subtree, or nil if it was never stored.
    func hash(of subtree: SubtreeID) throws -> [UInt8]?

    /// Stores the hash of a subtree that has just become complete.
    mutating func store(_ hash: [UInt8], for subtree: SubtreeID) throws
}

/// A `SubtreeHashStore` in memory: one array of hashes per level.
public struct InMemorySubtreeHashStore: SubtreeHashStore, Sendable {
    private var levels: [[[UInt8]]] = []

    public init() {}

    /// How many subtree hashes are stored, over all levels.
    public var count: Int { levels.reduce(0) { $0 + $1.count } }

    public func hash(of subtree: SubtreeID) -> [UInt8]? {
        guard subtree.level >= 0, subtree.level < levels.count,
              subtree.index >= 0, subtree.index < levels[subtree.level].count
        else { return nil }
        return levels[subtree.level][subtree.index]
    }

    /// Stores `hash`. Subtrees complete left to right on each level, so the
    /// append-only tree only ever stores the next index of a level; any other
    /// index (a gap or an overwrite) is refused.
    public mutating func store(_ hash: [UInt8], for subtree: SubtreeID) throws(InMemorySubtreeHashStoreError) {
        guard subtree.level >= 0 else { throw InMemorySubtreeHashStoreError.notNextIndex(subtree) }
        while levels.count <= subtree.level { levels.append([]) }
        guard subtree.index == levels[subtree.level].count else {
            throw InMemorySubtreeHashStoreError.notNextIndex(subtree)
        }
        levels[subtree.level].append(hash)
    }
}

/// Why `InMemorySubtreeHashStore` refused to store a hash.
public enum InMemorySubtreeHashStoreError: Error, Equatable, Sendable {
    /// The subtree was not the next one on its level.
    case notNextIndex(SubtreeID)
}

/// The few subtree hashes one operation on a database-backed log needs, read beforehand in one query,
/// and the hashes the operation produced, to be written in its transaction. Never the whole tree.
public struct SubtreeHashBuffer: SubtreeHashStore, Sendable {
    private var known: [SubtreeID: [UInt8]]
    /// Hashes stored since the last `takeWritten`, in order.
    public private(set) var written: [(SubtreeID, [UInt8])] = []

    public init(known: [SubtreeID: [UInt8]] = [:]) { self.known = known }

    public func hash(of subtree: SubtreeID) -> [UInt8]? { known[subtree] }

    public mutating func store(_ hash: [UInt8], for subtree: SubtreeID) {
        written.append((subtree, hash))
    }

    /// The hashes written so far, which the buffer then forgets.
    public mutating func takeWritten() -> [(SubtreeID, [UInt8])] {
        defer { written = [] }
        return written
    }
}
