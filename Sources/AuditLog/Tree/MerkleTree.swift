/// Why a Merkle tree operation could not be carried out.
public enum MerkleTreeError: Error, Equatable, Sendable {
    /// The leaf index is not inside the tree (`index < 0` or `index >= treeSize`).
    case indexOutOfRange(index: Int, treeSize: Int)
    /// The requested tree size is negative, or larger than the tree has grown.
    case treeSizeOutOfRange(requested: Int, available: Int)
    /// A consistency proof was asked for with `first > second` or `first < 0`.
    case invalidConsistencyRange(first: Int, second: Int)
    /// A hash did not have `MerkleHash.size` bytes.
    case invalidHashLength(Int)
    /// The store lacks a complete subtree that the tree size says must exist.
    case missingSubtree(level: Int, index: Int)
}

/// The reference RFC 6962 / RFC 9162 Merkle tree functions over a full list of leaf
/// hashes, written as the RFC's recursive definitions (section 2.1.1 MTH, 2.1.3.1
/// PATH, 2.1.4.1 SUBPROOF), plus the proof verification algorithms (2.1.3.2, 2.1.4.2),
/// which need no tree at all.
///
/// Generation here costs O(n) hashes: it serves tests and offline verifiers.
/// `IncrementalMerkleTree` produces the same proofs in O(log n) hash reads.
public enum MerkleTree {
    // MARK: Reference generation

    /// The Merkle Tree Hash (MTH) of the tree whose leaves have these leaf hashes.
    public static func root(of leafHashes: [[UInt8]]) -> [UInt8] {
        leafHashes.isEmpty ? MerkleHash.empty : mth(leafHashes[...])
    }

    /// The inclusion proof (audit path) of leaf `index` in the tree of these leaves.
    public static func inclusionProof(index: Int, leafHashes: [[UInt8]]) throws(MerkleTreeError) -> [[UInt8]] {
        guard index >= 0, index < leafHashes.count else {
            throw .indexOutOfRange(index: index, treeSize: leafHashes.count)
        }
        return path(index, leafHashes[...])
    }

    /// The consistency proof from the tree of the first `first` leaves to the tree of
    /// all of `leafHashes`. Empty when `first` is 0 or equals the leaf count.
    public static func consistencyProof(first: Int, leafHashes: [[UInt8]]) throws(MerkleTreeError) -> [[UInt8]] {
        guard first >= 0, first <= leafHashes.count else {
            throw .invalidConsistencyRange(first: first, second: leafHashes.count)
        }
        guard first > 0 else { return [] }
        return subproof(first, leafHashes[...], complete: true)
    }

    private static func mth(_ leaves: ArraySlice<[UInt8]>) -> [UInt8] {
        if leaves.count == 1 { return leaves[leaves.startIndex] }
        let split = leaves.startIndex + largestPowerOfTwo(below: leaves.count)
        return MerkleHash.node(mth(leaves[..<split]), mth(leaves[split...]))
    }

    /// PATH(m, D[n]); `m` is relative to the start of the slice.
    private static func path(_ m: Int, _ leaves: ArraySlice<[UInt8]>) -> [[UInt8]] {
        guard leaves.count > 1 else { return [] }
        let k = largestPowerOfTwo(below: leaves.count)
        let split = leaves.startIndex + k
        if m < k {
            return path(m, leaves[..<split]) + [mth(leaves[split...])]
        }
        return path(m - k, leaves[split...]) + [mth(leaves[..<split])]
    }

    /// SUBPROOF(m, D[n], b); `m` is relative to the start of the slice.
    private static func subproof(_ m: Int, _ leaves: ArraySlice<[UInt8]>, complete: Bool) -> [[UInt8]] {
        if m == leaves.count { return complete ? [] : [mth(leaves)] }
        let k = largestPowerOfTwo(below: leaves.count)
        let split = leaves.startIndex + k
        if m <= k {
            return subproof(m, leaves[..<split], complete: complete) + [mth(leaves[split...])]
        }
        return subproof(m - k, leaves[split...], complete: false) + [mth(leaves[..<split])]
    }

    /// The largest power of two strictly smaller than `n`, for `n >= 2`.
    static func largestPowerOfTwo(below n: Int) -> Int {
        1 << (Int.bitWidth - 1 - (n - 1).leadingZeroBitCount)
    }

    // MARK: Verification

    /// Whether `proof` shows that `leafHash` is leaf `index` of the tree of `treeSize`
    /// leaves with root `root` (RFC 9162 section 2.1.3.2).
    public static func verifyInclusion(
        leafHash: [UInt8], index: Int, treeSize: Int, proof: [[UInt8]], root: [UInt8]
    ) -> Bool {
        guard index >= 0, index < treeSize, proof.allSatisfy({ $0.count == MerkleHash.size }) else {
            return false
        }
        var fn = index
        var sn = treeSize - 1
        var r = leafHash
        for p in proof {
            // A proof longer than the path from leaf to root.
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = MerkleHash.node(p, r)
                // On the right edge: skip the levels where this node has no sibling.
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                r = MerkleHash.node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// Whether `proof` shows that the tree of `second` leaves with root `secondRoot`
    /// extends the tree of `first` leaves with root `firstRoot` (RFC 9162 section
    /// 2.1.4.2). The empty tree (`first == 0`, root `MerkleHash.empty`) is extended by
    /// every tree with an empty proof; equal sizes need equal roots and an empty proof.
    public static func verifyConsistency(
        first: Int, second: Int, firstRoot: [UInt8], secondRoot: [UInt8], proof: [[UInt8]]
    ) -> Bool {
        guard first >= 0, first <= second, proof.allSatisfy({ $0.count == MerkleHash.size }) else {
            return false
        }
        if first == 0 { return proof.isEmpty && firstRoot == MerkleHash.empty }
        if first == second { return proof.isEmpty && firstRoot == secondRoot }
        guard !proof.isEmpty else { return false }

        // When the first tree is a complete subtree, its root is the proof's start.
        let path = first & (first - 1) == 0 ? [firstRoot] + proof : proof
        var fn = first - 1
        var sn = second - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = MerkleHash.node(c, fr)
                sr = MerkleHash.node(c, sr)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                sr = MerkleHash.node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && fr == firstRoot && sr == secondRoot
    }
}
