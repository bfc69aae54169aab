import Testing
@testable import AuditLog

/// The published CT test tree, checked against both implementations.
@Suite struct PublishedVectorTests {
    let leafHashes = PublishedVectors.leafData.map(MerkleHash.leaf)

    func incrementalTree() throws -> IncrementalMerkleTree<InMemorySubtreeHashStore> {
        var tree = IncrementalMerkleTree()
        for leafHash in leafHashes { try tree.append(leafHash: leafHash) }
        return tree
    }

    @Test func emptyTreeRoot() throws {
        #expect(MerkleHash.hex(MerkleHash.empty) == PublishedVectors.emptyRoot)
        #expect(MerkleTree.root(of: []) == MerkleHash.empty)
        #expect(IncrementalMerkleTree().root == MerkleHash.empty)
        #expect(try incrementalTree().root(treeSize: 0) == MerkleHash.empty)
    }

    @Test func rootsOfSizesOneToEight() throws {
        let tree = try incrementalTree()
        for size in 1...8 {
            let expected = PublishedVectors.roots[size - 1]
            #expect(MerkleHash.hex(MerkleTree.root(of: Array(leafHashes[..<size]))) == expected, "size \(size)")
            #expect(MerkleHash.hex(try tree.root(treeSize: size)) == expected, "size \(size)")
        }
        #expect(MerkleHash.hex(tree.root) == PublishedVectors.roots[7])
    }

    @Test(arguments: PublishedVectors.inclusionProofs)
    func inclusionProof(_ vector: PublishedVectors.Inclusion) throws {
        let expected = vector.proof.map(bytes)
        let leaves = Array(leafHashes[..<vector.treeSize])
        #expect(try MerkleTree.inclusionProof(index: vector.index, leafHashes: leaves) == expected)
        #expect(try incrementalTree().inclusionProof(index: vector.index, treeSize: vector.treeSize) == expected)
        #expect(MerkleTree.verifyInclusion(
            leafHash: leafHashes[vector.index], index: vector.index, treeSize: vector.treeSize,
            proof: expected, root: bytes(PublishedVectors.roots[vector.treeSize - 1])))
    }

    @Test(arguments: PublishedVectors.consistencyProofs)
    func consistencyProof(_ vector: PublishedVectors.Consistency) throws {
        let expected = vector.proof.map(bytes)
        let leaves = Array(leafHashes[..<vector.second])
        #expect(try MerkleTree.consistencyProof(first: vector.first, leafHashes: leaves) == expected)
        #expect(try incrementalTree().consistencyProof(first: vector.first, second: vector.second) == expected)
        #expect(MerkleTree.verifyConsistency(
            first: vector.first, second: vector.second,
            firstRoot: bytes(PublishedVectors.roots[vector.first - 1]),
            secondRoot: bytes(PublishedVectors.roots[vector.second - 1]), proof: expected))
    }

    @Test func leafAndNodeHashes() {
        // The size-1 root is the leaf hash of the empty string; the size-2 root is one node.
        #expect(MerkleHash.leaf([]) == bytes(PublishedVectors.roots[0]))
        #expect(MerkleHash.node(leafHashes[0], leafHashes[1]) == bytes(PublishedVectors.roots[1]))
        // An entry's text is hashed from its UTF-8 in place: the same leaf as from its bytes.
        #expect(MerkleHash.leaf(utf8: "") == bytes(PublishedVectors.roots[0]))
        for text in ["a", #"{"actor":"agent-é","index":7}"#, String(repeating: "ü€", count: 300)] {
            #expect(MerkleHash.leaf(utf8: text) == MerkleHash.leaf(Array(text.utf8)))
        }
    }

    @Test func hexRoundTrip() {
        let hash = bytes(PublishedVectors.roots[7])
        #expect(MerkleHash.bytes(hex: PublishedVectors.roots[7]) == hash)
        #expect(MerkleHash.bytes(hex: PublishedVectors.roots[7].uppercased()) == hash)
        #expect(MerkleHash.hex(hash) == PublishedVectors.roots[7])
        #expect(MerkleHash.bytes(hex: "") == [])
        #expect(MerkleHash.hex([0x00, 0x0f, 0xf0, 0xff]) == "000ff0ff")
        #expect(MerkleHash.bytes(hex: "abc") == nil)
        #expect(MerkleHash.bytes(hex: "zz") == nil)
        #expect(MerkleHash.bytes(hex: "0g") == nil)
    }
}
