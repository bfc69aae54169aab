import Testing
@testable import AuditLog

/// Leaf hashes for trees of up to `count` leaves: the published eight, then more.
func testLeafHashes(_ count: Int) -> [[UInt8]] {
    (0..<count).map { index in
        index < PublishedVectors.leafData.count
            ? MerkleHash.leaf(PublishedVectors.leafData[index])
            : MerkleHash.leaf(Array("audit entry \(index)".utf8))
    }
}

/// `bytes` with one bit inverted.
func flipping(bit: Int, of bytes: [UInt8]) -> [UInt8] {
    var copy = bytes
    copy[bit / 8] ^= 1 << UInt8(bit % 8)
    return copy
}

/// The bits to flip in a hash: all of them in small trees, a spread otherwise
/// (every byte, rotating bit), to keep the debug-build run short.
func bitsToFlip(exhaustive: Bool) -> [Int] {
    exhaustive ? Array(0..<256) : (0..<32).map { $0 * 8 + $0 % 8 } + [255]
}

/// The largest power of two below n, computed independently of the library.
func split(_ n: Int) -> Int {
    var k = 1
    while k <= (n - 1) / 2 { k *= 2 }
    return k
}

/// The shape of PATH(m, D[n]) from the RFC recursion: for each proof element, bottom
/// up, whether it is a left sibling. Two (index, size) pairs with the same shape make
/// the verifier do the same hashing, so a proof verifies for both or for neither.
func inclusionShape(_ m: Int, _ n: Int) -> [Bool] {
    guard n > 1 else { return [] }
    let k = split(n)
    return m < k ? inclusionShape(m, k) + [false] : inclusionShape(m - k, n - k) + [true]
}

/// The shape of SUBPROOF(m, D[n], b): the starting point (old root known to the
/// verifier, or a proof element), then the side of each further element.
func consistencyShape(_ m: Int, _ n: Int, _ b: Bool = true) -> [String] {
    if m == n { return [b ? "old root" : "element"] }
    let k = split(n)
    return m <= k ? consistencyShape(m, k, b) + ["right"] : consistencyShape(m - k, n - k, false) + ["left"]
}

@Suite struct ProofPropertyTests {
    static let maxSize = 64
    let leaves = testLeafHashes(ProofPropertyTests.maxSize)

    func root(_ size: Int) -> [UInt8] { MerkleTree.root(of: Array(leaves[..<size])) }

    @Test(arguments: 1...ProofPropertyTests.maxSize)
    func inclusionProofsVerifyAndResistTampering(size: Int) throws {
        let tree = Array(leaves[..<size])
        let root = root(size)
        let wrongRoots = [MerkleHash.empty, self.root(max(1, size - 1)), self.root(min(Self.maxSize, size + 1))]
            .filter { $0 != root }
        for index in 0..<size {
            let leaf = leaves[index]
            let proof = try MerkleTree.inclusionProof(index: index, leafHashes: tree)
            func verify(_ leaf: [UInt8], _ index: Int, _ size: Int, _ proof: [[UInt8]], _ root: [UInt8]) -> Bool {
                MerkleTree.verifyInclusion(leafHash: leaf, index: index, treeSize: size, proof: proof, root: root)
            }
            #expect(verify(leaf, index, size, proof, root), "leaf \(index) of \(size)")

            let bits = bitsToFlip(exhaustive: size <= 16)
            for element in proof.indices {
                for bit in bits {
                    var tampered = proof
                    tampered[element] = flipping(bit: bit, of: proof[element])
                    #expect(!verify(leaf, index, size, tampered, root), "element \(element) bit \(bit)")
                }
            }
            for bit in bits {
                #expect(!verify(flipping(bit: bit, of: leaf), index, size, proof, root), "leaf bit \(bit)")
                #expect(!verify(leaf, index, size, proof, flipping(bit: bit, of: root)), "root bit \(bit)")
            }
            for wrongRoot in wrongRoots { #expect(!verify(leaf, index, size, proof, wrongRoot)) }
            for other in leaves where other != leaf { #expect(!verify(other, index, size, proof, root)) }

            // Every other index fails: no two leaves share a path from the root.
            for wrongIndex in [-1, size, size + 1, Int.max] + Array(0..<size) where wrongIndex != index {
                #expect(!verify(leaf, wrongIndex, size, proof, root), "index \(wrongIndex)")
            }
            // A wrong size fails unless it gives the leaf's path the very same shape
            // (the size itself is authenticated by the signed tree head, not the proof).
            for wrongSize in Set([0, size - 1, size + 1, size * 2, size / 2, 1 << 20, Int.max]) where wrongSize != size {
                let sameShape = index < wrongSize && inclusionShape(index, wrongSize) == inclusionShape(index, size)
                #expect(verify(leaf, index, wrongSize, proof, root) == sameShape, "size \(wrongSize)")
            }
            // Truncated, extended, reordered proofs.
            if !proof.isEmpty {
                #expect(!verify(leaf, index, size, Array(proof.dropLast()), root))
                #expect(!verify(leaf, index, size, Array(proof.dropFirst()), root))
            }
            #expect(!verify(leaf, index, size, proof + [root], root))
            #expect(!verify(leaf, index, size, [leaf] + proof, root))
            #expect(!verify(leaf, index, size, proof + [[]], root))
            if proof.count > 1 && proof.first != proof.last {
                #expect(!verify(leaf, index, size, proof.reversed(), root))
            }
        }
    }

    @Test(arguments: 1...ProofPropertyTests.maxSize)
    func consistencyProofsVerifyAndResistTampering(second: Int) throws {
        let tree = Array(leaves[..<second])
        let secondRoot = root(second)
        for first in 1...second {
            let firstRoot = root(first)
            let proof = try MerkleTree.consistencyProof(first: first, leafHashes: tree)
            func verify(_ first: Int, _ second: Int, _ firstRoot: [UInt8], _ secondRoot: [UInt8], _ proof: [[UInt8]]) -> Bool {
                MerkleTree.verifyConsistency(
                    first: first, second: second, firstRoot: firstRoot, secondRoot: secondRoot, proof: proof)
            }
            #expect(verify(first, second, firstRoot, secondRoot, proof), "\(first) to \(second)")
            #expect(proof.isEmpty == (first == second))

            let bits = bitsToFlip(exhaustive: second <= 12)
            for element in proof.indices {
                for bit in bits {
                    var tampered = proof
                    tampered[element] = flipping(bit: bit, of: proof[element])
                    #expect(!verify(first, second, firstRoot, secondRoot, tampered), "element \(element) bit \(bit)")
                }
            }
            for bit in bits {
                #expect(!verify(first, second, flipping(bit: bit, of: firstRoot), secondRoot, proof), "first root bit \(bit)")
                #expect(!verify(first, second, firstRoot, flipping(bit: bit, of: secondRoot), proof), "second root bit \(bit)")
            }
            guard first < second else { continue }
            #expect(!verify(first, second, secondRoot, firstRoot, proof), "swapped roots")
            #expect(!verify(first, second, firstRoot, secondRoot, []), "empty proof")

            // Wrong sizes fail unless the verifier would do the very same hashing.
            let candidates = Set([0, first - 1, first + 1, first ^ 2, second - 1, second + 1, second * 2, second / 2])
            for wrongFirst in candidates where wrongFirst != first {
                let sameShape = wrongFirst > 0 && wrongFirst < second
                    && consistencyShape(wrongFirst, second) == consistencyShape(first, second)
                #expect(verify(wrongFirst, second, firstRoot, secondRoot, proof) == sameShape, "first \(wrongFirst)")
            }
            for wrongSecond in candidates where wrongSecond != second {
                let sameShape = first < wrongSecond
                    && consistencyShape(first, wrongSecond) == consistencyShape(first, second)
                #expect(verify(first, wrongSecond, firstRoot, secondRoot, proof) == sameShape, "second \(wrongSecond)")
            }
            // Truncated and extended proofs.
            #expect(!verify(first, second, firstRoot, secondRoot, Array(proof.dropLast())))
            #expect(!verify(first, second, firstRoot, secondRoot, Array(proof.dropFirst())))
            #expect(!verify(first, second, firstRoot, secondRoot, proof + [firstRoot]))
            #expect(!verify(first, second, firstRoot, secondRoot, [proof[0]] + proof))
            #expect(!verify(first, second, firstRoot, secondRoot, proof + [[]]))
        }
    }

    @Test func degenerateConsistency() {
        let root5 = root(5)
        // Every tree extends the empty tree, whose root is fixed.
        #expect(MerkleTree.verifyConsistency(first: 0, second: 5, firstRoot: MerkleHash.empty, secondRoot: root5, proof: []))
        #expect(MerkleTree.verifyConsistency(first: 0, second: 0, firstRoot: MerkleHash.empty, secondRoot: MerkleHash.empty, proof: []))
        #expect(!MerkleTree.verifyConsistency(first: 0, second: 5, firstRoot: root5, secondRoot: root5, proof: []))
        #expect(!MerkleTree.verifyConsistency(first: 0, second: 5, firstRoot: MerkleHash.empty, secondRoot: root5, proof: [root5]))
        // Equal sizes: equal roots and nothing else.
        #expect(MerkleTree.verifyConsistency(first: 5, second: 5, firstRoot: root5, secondRoot: root5, proof: []))
        #expect(!MerkleTree.verifyConsistency(first: 5, second: 5, firstRoot: root5, secondRoot: root(4), proof: []))
        #expect(!MerkleTree.verifyConsistency(first: 5, second: 5, firstRoot: root5, secondRoot: root5, proof: [root5]))
        // Shrinking trees and negative sizes.
        #expect(!MerkleTree.verifyConsistency(first: 5, second: 4, firstRoot: root5, secondRoot: root(4), proof: []))
        #expect(!MerkleTree.verifyConsistency(first: -1, second: 4, firstRoot: root5, secondRoot: root(4), proof: []))
    }

    @Test func degenerateInclusion() {
        let leaf = leaves[0]
        #expect(MerkleTree.verifyInclusion(leafHash: leaf, index: 0, treeSize: 1, proof: [], root: leaf))
        #expect(!MerkleTree.verifyInclusion(leafHash: leaf, index: 0, treeSize: 0, proof: [], root: leaf))
        #expect(!MerkleTree.verifyInclusion(leafHash: leaf, index: 0, treeSize: 0, proof: [], root: MerkleHash.empty))
        #expect(!MerkleTree.verifyInclusion(leafHash: leaf, index: -1, treeSize: 1, proof: [], root: leaf))
        #expect(!MerkleTree.verifyInclusion(leafHash: leaf, index: 0, treeSize: 1, proof: [leaf], root: leaf))
    }

    @Test func referenceGenerationRejectsBadArguments() throws {
        #expect(throws: MerkleTreeError.indexOutOfRange(index: 3, treeSize: 3)) {
            try MerkleTree.inclusionProof(index: 3, leafHashes: Array(leaves[..<3]))
        }
        #expect(throws: MerkleTreeError.indexOutOfRange(index: -1, treeSize: 3)) {
            try MerkleTree.inclusionProof(index: -1, leafHashes: Array(leaves[..<3]))
        }
        #expect(throws: MerkleTreeError.invalidConsistencyRange(first: 4, second: 3)) {
            try MerkleTree.consistencyProof(first: 4, leafHashes: Array(leaves[..<3]))
        }
        #expect(try MerkleTree.consistencyProof(first: 0, leafHashes: Array(leaves[..<3])) == [])
    }
}
