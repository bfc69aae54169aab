/// A complete, aligned subtree: the perfect tree of `2^level` leaves starting at
/// leaf `index * 2^level`. Its hash never changes once the log has grown past it,
/// which is what makes it safe to store and reuse for every later tree size.
public struct SubtreeID: Hashable, Sendable, CustomStringConvertible {
    public let level: Int
    public let index: Int

    public init(level: Int, index: Int) {
        self.level = level
        self.index = index
    }

    /// The leaves this subtree covers.
    public var leaves: Range<Int> { (index << level)..<((index + 1) << level) }

    public var description: String { "(level \(level), index \(index))" }
}

/// Which tree nodes make up a root or a proof, as leaf ranges, without any hashing.
///
/// Every node of the RFC 6962 tree of size n covers a leaf range `[start, end)` where
/// `start` is a multiple of a power of two `2^j >= end - start`. Such a range splits,
/// greedily from the left, into complete aligned subtrees of strictly decreasing
/// size, and its hash is the right fold `node(s1, node(s2, ... sk))` of theirs. A node
/// is itself complete unless it lies on the right edge of the tree (`end == n`), and
/// a root or proof contains at most one incomplete node, so reading O(log n) stored
/// subtree hashes is enough to produce any of them, for any tree size.
///
/// A storage-backed log can use these to fetch every needed hash in one query.
public enum MerkleProofLayout {
    /// The nodes of the inclusion proof for leaf `index` in a tree of `treeSize` leaves,
    /// in proof order (from the leaf's sibling up to the root's child).
    public static func inclusionNodes(index: Int, treeSize: Int) throws(MerkleTreeError) -> [Range<Int>] {
        guard index >= 0, index < treeSize else {
            throw .indexOutOfRange(index: index, treeSize: treeSize)
        }
        var nodes: [Range<Int>] = []
        var lo = 0
        var hi = treeSize
        // Walk down from the root; each step records the sibling of the side taken.
        while hi - lo > 1 {
            let split = lo + MerkleTree.largestPowerOfTwo(below: hi - lo)
            if index < split {
                nodes.append(split..<hi)
                hi = split
            } else {
                nodes.append(lo..<split)
                lo = split
            }
        }
        return nodes.reversed()
    }

    /// The nodes of the consistency proof from tree size `first` to tree size `second`,
    /// in proof order. Empty when `first` is 0 or equal to `second`.
    public static func consistencyNodes(first: Int, second: Int) throws(MerkleTreeError) -> [Range<Int>] {
        guard first >= 0, first <= second else {
            throw .invalidConsistencyRange(first: first, second: second)
        }
        guard first > 0, first < second else { return [] }
        var nodes: [Range<Int>] = []
        var lo = 0
        var hi = second
        // SUBPROOF's flag b: whether the current node is still the old tree's root.
        var isFirstRoot = true
        while first != hi {
            let split = lo + MerkleTree.largestPowerOfTwo(below: hi - lo)
            if first <= split {
                nodes.append(split..<hi)
                hi = split
            } else {
                nodes.append(lo..<split)
                lo = split
                isFirstRoot = false
            }
        }
        // The old tree's root is known to the verifier already; any other node where
        // the old tree ends is the proof's first element.
        if !isFirstRoot { nodes.append(lo..<hi) }
        return nodes.reversed()
    }

    /// The complete aligned subtrees whose right fold is the hash of node `range`,
    /// largest first. `range` must be a node of some RFC 6962 tree (see the type's
    /// documentation), which every range returned by this type is.
    public static func subtrees(of range: Range<Int>) -> [SubtreeID] {
        var subtrees: [SubtreeID] = []
        var start = range.lowerBound
        while start < range.upperBound {
            // The largest subtree that is aligned at `start` and fits in what is left.
            let fits = Int.bitWidth - 1 - (range.upperBound - start).leadingZeroBitCount
            let level = start == 0 ? fits : min(fits, start.trailingZeroBitCount)
            subtrees.append(SubtreeID(level: level, index: start >> level))
            start += 1 << level
        }
        return subtrees
    }

    /// The complete subtrees that make up the tree of `treeSize` leaves, largest first:
    /// the tree's "frontier" (compact range), one subtree per set bit of `treeSize`.
    public static func frontier(treeSize: Int) -> [SubtreeID] {
        treeSize > 0 ? subtrees(of: 0..<treeSize) : []
    }
}
