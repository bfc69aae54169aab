import Testing
@testable import AuditLog

/// A store that counts its reads, to check the O(log n) cost of proofs.
final class ReadCounter {
    var reads = 0
}

struct CountingStore: SubtreeHashStore {
    var inner = InMemorySubtreeHashStore()
    let counter = ReadCounter()

    func hash(of subtree: SubtreeID) -> [UInt8]? {
        counter.reads += 1
        return inner.hash(of: subtree)
    }

    mutating func store(_ hash: [UInt8], for subtree: SubtreeID) throws {
        try inner.store(hash, for: subtree)
    }
}

@Suite struct IncrementalMerkleTreeTests {
    static let maxSize = 64
    let leaves = testLeafHashes(IncrementalMerkleTreeTests.maxSize)

    func fullTree() throws -> IncrementalMerkleTree<InMemorySubtreeHashStore> {
        var tree = IncrementalMerkleTree()
        for leaf in leaves { try tree.append(leafHash: leaf) }
        return tree
    }

    @Test func rootsAndStorageAtEverySize() throws {
        var tree = IncrementalMerkleTree()
        #expect(tree.root == MerkleHash.empty)
        for (index, leaf) in leaves.enumerated() {
            #expect(try tree.append(leafHash: leaf) == index)
            let size = index + 1
            let prefix = Array(leaves[..<size])
            #expect(tree.size == size)
            #expect(tree.root == MerkleTree.root(of: prefix), "size \(size)")
            // One hash per leaf plus one per completed subtree: 2n - popcount(n).
            #expect(tree.store.count == 2 * size - size.nonzeroBitCount)
            #expect(tree.store.count < 2 * size)
            // Proofs at the current size.
            for proofIndex in 0..<size {
                #expect(try tree.inclusionProof(index: proofIndex, treeSize: size)
                    == MerkleTree.inclusionProof(index: proofIndex, leafHashes: prefix), "leaf \(proofIndex) of \(size)")
            }
            for first in 0...size {
                #expect(try tree.consistencyProof(first: first, second: size)
                    == MerkleTree.consistencyProof(first: first, leafHashes: prefix), "\(first) to \(size)")
            }
        }
    }

    @Test func proofsForEarlierSizesMatchTheReference() throws {
        let tree = try fullTree()
        for size in 0...Self.maxSize {
            let prefix = Array(leaves[..<size])
            #expect(try tree.root(treeSize: size) == MerkleTree.root(of: prefix), "size \(size)")
            for index in 0..<size {
                #expect(try tree.inclusionProof(index: index, treeSize: size)
                    == MerkleTree.inclusionProof(index: index, leafHashes: prefix), "leaf \(index) of \(size)")
            }
            for first in 0...size {
                let proof = try tree.consistencyProof(first: first, second: size)
                #expect(proof == (try MerkleTree.consistencyProof(first: first, leafHashes: prefix)), "\(first) to \(size)")
                #expect(MerkleTree.verifyConsistency(
                    first: first, second: size, firstRoot: try tree.root(treeSize: first),
                    secondRoot: try tree.root(treeSize: size), proof: proof))
            }
        }
    }

    @Test func proofsCostLogarithmicReads() throws {
        var tree = IncrementalMerkleTree(store: CountingStore())
        let count = 1_000
        for index in 0..<count { try tree.append(leafHash: MerkleHash.leaf(Array("entry \(index)".utf8))) }
        let counter = tree.store.counter
        func reads(_ body: () throws -> Void) rethrows -> Int {
            counter.reads = 0
            try body()
            return counter.reads
        }
        #expect(reads { _ = tree.root } == 0)
        for size in [1, 2, 3, 7, 8, 9, 255, 256, 257, 511, 600, 999, 1_000] {
            // Proof length is at most log2(size) rounded up; one element on the right
            // edge folds at most popcount(size) stored subtrees.
            let bound = 2 * (Int.bitWidth - (size - 1).leadingZeroBitCount) + 1
            #expect(try reads { _ = try tree.root(treeSize: size) } <= bound, "root \(size)")
            for index in Set([0, 1, size / 2, size - 2, size - 1]) where index >= 0 && index < size {
                let used = try reads { _ = try tree.inclusionProof(index: index, treeSize: size) }
                #expect(used <= bound, "leaf \(index) of \(size): \(used) reads")
            }
            for first in Set([1, 2, 3, size / 2, size - 1]) where first > 0 && first <= size {
                let used = try reads { _ = try tree.consistencyProof(first: first, second: size) }
                #expect(used <= bound, "\(first) to \(size): \(used) reads")
            }
        }
    }

    @Test func reopensFromItsStore() throws {
        let full = try fullTree()
        for size in 0...Self.maxSize {
            let reopened = try IncrementalMerkleTree(store: full.store, size: size)
            #expect(reopened.root == MerkleTree.root(of: Array(leaves[..<size])), "size \(size)")
        }
        // Reopened at its full size, the tree keeps growing correctly.
        var grown = try IncrementalMerkleTree(store: full.store, size: Self.maxSize)
        let more = testLeafHashes(Self.maxSize + 5)
        for leaf in more[Self.maxSize...] { try grown.append(leafHash: leaf) }
        #expect(grown.root == MerkleTree.root(of: more))
    }

    @Test func reportsMissingSubtrees() throws {
        #expect(throws: MerkleTreeError.missingSubtree(level: 2, index: 0)) {
            try IncrementalMerkleTree(store: InMemorySubtreeHashStore(), size: 5)
        }
    }

    @Test func rejectsBadArguments() throws {
        var tree = try fullTree()
        #expect(throws: MerkleTreeError.invalidHashLength(3)) { try tree.append(leafHash: [1, 2, 3]) }
        #expect(tree.size == Self.maxSize)
        #expect(throws: MerkleTreeError.treeSizeOutOfRange(requested: 65, available: 64)) {
            try tree.root(treeSize: 65)
        }
        #expect(throws: MerkleTreeError.treeSizeOutOfRange(requested: -1, available: 64)) {
            try tree.root(treeSize: -1)
        }
        #expect(throws: MerkleTreeError.treeSizeOutOfRange(requested: 65, available: 64)) {
            try tree.inclusionProof(index: 0, treeSize: 65)
        }
        #expect(throws: MerkleTreeError.indexOutOfRange(index: 10, treeSize: 10)) {
            try tree.inclusionProof(index: 10, treeSize: 10)
        }
        #expect(throws: MerkleTreeError.indexOutOfRange(index: -1, treeSize: 10)) {
            try tree.inclusionProof(index: -1, treeSize: 10)
        }
        #expect(throws: MerkleTreeError.invalidConsistencyRange(first: 11, second: 10)) {
            try tree.consistencyProof(first: 11, second: 10)
        }
        #expect(throws: MerkleTreeError.treeSizeOutOfRange(requested: 70, available: 64)) {
            try tree.consistencyProof(first: 1, second: 70)
        }
    }

    @Test func inMemoryStoreIsWriteOnce() throws {
        var store = InMemorySubtreeHashStore()
        try store.store(MerkleHash.empty, for: SubtreeID(level: 0, index: 0))
        #expect(throws: InMemorySubtreeHashStoreError.notNextIndex(SubtreeID(level: 0, index: 0))) {
            try store.store(MerkleHash.empty, for: SubtreeID(level: 0, index: 0))
        }
        #expect(throws: InMemorySubtreeHashStoreError.notNextIndex(SubtreeID(level: 1, index: 1))) {
            try store.store(MerkleHash.empty, for: SubtreeID(level: 1, index: 1))
        }
        #expect(throws: InMemorySubtreeHashStoreError.notNextIndex(SubtreeID(level: -1, index: 0))) {
            try store.store(MerkleHash.empty, for: SubtreeID(level: -1, index: 0))
        }
        #expect(store.hash(of: SubtreeID(level: 0, index: 1)) == nil)
        #expect(store.hash(of: SubtreeID(level: -1, index: 0)) == nil)
        #expect(store.count == 1)
    }

    @Test func layoutSplitsNodesIntoAlignedSubtrees() throws {
        #expect(MerkleProofLayout.frontier(treeSize: 0) == [])
        #expect(MerkleProofLayout.frontier(treeSize: 13) == [
            SubtreeID(level: 3, index: 0), SubtreeID(level: 2, index: 2), SubtreeID(level: 0, index: 12),
        ])
        #expect(MerkleProofLayout.subtrees(of: 8..<15) == [
            SubtreeID(level: 2, index: 2), SubtreeID(level: 1, index: 6), SubtreeID(level: 0, index: 14),
        ])
        #expect(SubtreeID(level: 2, index: 3).leaves == 12..<16)
        // The published proofs: 6 -> 8 starts with node [4, 6), the old tree's last part.
        #expect(try MerkleProofLayout.consistencyNodes(first: 6, second: 8) == [4..<6, 6..<8, 0..<4])
        #expect(try MerkleProofLayout.inclusionNodes(index: 5, treeSize: 8) == [4..<5, 6..<8, 0..<4])
    }
}
