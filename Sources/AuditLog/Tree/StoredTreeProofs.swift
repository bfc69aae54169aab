/// Proofs and roots of a log whose complete subtree hashes are in a database: the subtrees a proof
/// needs are worked out first (`MerkleProofLayout`), read in one request, then folded. O(log n)
/// reads and hashes per proof, whatever the size of the log.
public struct StoredTreeProofs {
    /// Reads the hashes of the given subtrees; absent ones are simply missing from the answer.
    public typealias Fetch = ([SubtreeID]) async throws -> [SubtreeID: [UInt8]]
    let fetch: Fetch

    public init(fetch: @escaping Fetch) { self.fetch = fetch }

    /// The root of the tree of `treeSize` leaves.
    public func root(treeSize: Int) async throws -> [UInt8] {
        try await tree(size: treeSize, extra: []).root
    }

    /// The leaf hash, audit path and root for leaf `index` in the tree of `treeSize` leaves.
    public func inclusion(index: Int, treeSize: Int) async throws -> (leafHash: [UInt8], path: [[UInt8]], root: [UInt8]) {
        let nodes = try MerkleProofLayout.inclusionNodes(index: index, treeSize: treeSize)
        let leaf = SubtreeID(level: 0, index: index)
        let tree = try await tree(size: treeSize, extra: nodes.flatMap(MerkleProofLayout.subtrees(of:)) + [leaf])
        guard let leafHash = tree.store.hash(of: leaf) else { throw MerkleTreeError.missingSubtree(level: 0, index: index) }
        return (leafHash, try tree.inclusionProof(index: index, treeSize: treeSize), tree.root)
    }

    /// The consistency proof from `first` to `second` leaves, with both roots.
    public func consistency(first: Int, second: Int) async throws -> (proof: [[UInt8]], firstRoot: [UInt8], secondRoot: [UInt8]) {
        let nodes = try MerkleProofLayout.consistencyNodes(first: first, second: second)
        let tree = try await tree(
            size: second, extra: nodes.flatMap(MerkleProofLayout.subtrees(of:)) + MerkleProofLayout.frontier(treeSize: first))
        return (try tree.consistencyProof(first: first, second: second), try tree.root(treeSize: first), tree.root)
    }

    private func tree(size: Int, extra: [SubtreeID]) async throws -> IncrementalMerkleTree<SubtreeHashBuffer> {
        guard size >= 0 else { throw MerkleTreeError.treeSizeOutOfRange(requested: size, available: 0) }
        let wanted = Array(Set(MerkleProofLayout.frontier(treeSize: size) + extra))
        return try IncrementalMerkleTree(store: SubtreeHashBuffer(known: try await fetch(wanted)), size: size)
    }
}
