/// An append-only RFC 6962 Merkle tree that keeps only its complete subtrees.
///
/// Appending a leaf stores it (level 0) and the hash of every perfect subtree the
/// leaf completes, so n leaves store `2n - popcount(n)` hashes. The tree also keeps
/// its frontier: the hashes of the complete subtrees that make up the whole tree,
/// one per set bit of the size, from which the current root folds in O(log n)
/// hashes without reading the store.
///
/// Proofs, and the roots of earlier sizes, are built from `MerkleProofLayout`: each
/// element is the hash of a node of the tree of the requested size. A node that is
/// not on that tree's right edge is a complete subtree, stored since the moment it
/// completed, and is read directly. At most one element per proof lies on the right
/// edge; it covers `[start, size)`, which splits into at most log2(size) complete
/// subtrees, and its hash is recomputed by folding their stored hashes. A proof for
/// any size up to the current one therefore costs O(log n) reads and hashes.
public struct IncrementalMerkleTree<Store: SubtreeHashStore> {
    /// Where the complete subtree hashes are kept.
    public private(set) var store: Store
    /// The number of leaves.
    public private(set) var size: Int
    /// The hashes of `MerkleProofLayout.frontier(treeSize: size)`, largest first.
    private var frontier: [[UInt8]]

    /// An empty tree over an empty store.
    public init(store: Store) {
        self.store = store
        self.size = 0
        self.frontier = []
    }

    /// Reopens a tree of `size` leaves whose subtrees are already in `store`,
    /// reading its frontier (O(log n) reads).
    public init(store: Store, size: Int) throws {
        guard size >= 0 else { throw MerkleTreeError.treeSizeOutOfRange(requested: size, available: 0) }
        self.store = store
        self.size = size
        self.frontier = []
        for subtree in MerkleProofLayout.frontier(treeSize: size) {
            frontier.append(try storedHash(of: subtree))
        }
    }

    /// The root of the current tree, from the frontier.
    public var root: [UInt8] {
        guard var hash = frontier.last else { return MerkleHash.empty }
        for left in frontier.dropLast().reversed() {
            hash = MerkleHash.node(left, hash)
        }
        return hash
    }

    /// Appends a leaf by its leaf hash (`MerkleHash.leaf(data)`) and returns its index.
    @discardableResult
    public mutating func append(leafHash: [UInt8]) throws -> Int {
        guard leafHash.count == MerkleHash.size else { throw MerkleTreeError.invalidHashLength(leafHash.count) }
        let index = size
        try store.store(leafHash, for: SubtreeID(level: 0, index: index))
        // The new leaf completes one subtree per trailing one bit of the old size,
        // each the merge of the two rightmost frontier entries. Work on a copy so a
        // failing store leaves the tree as it was.
        var newFrontier = frontier
        var hash = leafHash
        var level = 0
        var position = index
        while position & 1 == 1, let left = newFrontier.popLast() {
            hash = MerkleHash.node(left, hash)
            level += 1
            position >>= 1
            try store.store(hash, for: SubtreeID(level: level, index: position))
        }
        newFrontier.append(hash)
        frontier = newFrontier
        size = index + 1
        return index
    }

    /// The root of the tree as it was at `treeSize` leaves.
    public func root(treeSize: Int) throws -> [UInt8] {
        try checkSize(treeSize)
        if treeSize == size { return root }
        return treeSize == 0 ? MerkleHash.empty : try hash(of: 0..<treeSize)
    }

    /// The inclusion proof of leaf `index` in the tree of `treeSize` leaves.
    public func inclusionProof(index: Int, treeSize: Int) throws -> [[UInt8]] {
        try checkSize(treeSize)
        return try MerkleProofLayout.inclusionNodes(index: index, treeSize: treeSize).map { try hash(of: $0) }
    }

    /// The consistency proof from the tree of `first` leaves to that of `second`.
    public func consistencyProof(first: Int, second: Int) throws -> [[UInt8]] {
        try checkSize(second)
        return try MerkleProofLayout.consistencyNodes(first: first, second: second).map { try hash(of: $0) }
    }

    /// Gives `body` the store, for draining hashes a buffering store collected (see `SubtreeHashBuffer`).
    /// Changing what the store answers for stored subtrees would corrupt the tree.
    public mutating func withStore<R>(_ body: (inout Store) throws -> R) rethrows -> R {
        try body(&store)
    }

    private func checkSize(_ treeSize: Int) throws(MerkleTreeError) {
        guard treeSize >= 0, treeSize <= size else {
            throw .treeSizeOutOfRange(requested: treeSize, available: size)
        }
    }

    /// The hash of a tree node, folded from its complete subtrees.
    private func hash(of node: Range<Int>) throws -> [UInt8] {
        let subtrees = MerkleProofLayout.subtrees(of: node)
        guard let last = subtrees.last else { return MerkleHash.empty }
        var hash = try storedHash(of: last)
        for subtree in subtrees.dropLast().reversed() {
            hash = MerkleHash.node(try storedHash(of: subtree), hash)
        }
        return hash
    }

    private func storedHash(of subtree: SubtreeID) throws -> [UInt8] {
        guard let hash = try store.hash(of: subtree) else {
            throw MerkleTreeError.missingSubtree(level: subtree.level, index: subtree.index)
        }
        return hash
    }
}

extension IncrementalMerkleTree: Sendable where Store: Sendable {}

extension IncrementalMerkleTree where Store == InMemorySubtreeHashStore {
    /// An empty tree kept in memory.
    public init() {
        self.init(store: InMemorySubtreeHashStore())
    }
}
