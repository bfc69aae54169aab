import AuditLog
import Crypto
import Foundation
import GovernanceCore
import SQLiteNIO
import Testing

@testable import Storage

/// An event numbered `n`, as services append them.
func auditEvent(_ n: Int, type: AuditEntryType = .auth, actor: String = "usr_1") -> AuditEvent {
    AuditEvent(type: type, actor: actor, constitutionalHash: "cdd01ef066bc6cf2", subjects: ["s\(n)"], payload: ["n": .number(Double(n))])
}

/// A log on a real SQLite file, with a key that signs its heads.
struct StoredLog {
    let directory: String
    let repository: SQLiteAuditRepository
    let writer: AuditLogWriter
    let key = Curve25519.Signing.PrivateKey()
    var path: String { directory + "/acgs.sqlite" }
    var keys: [AuditPublicKey] { [AuditPublicKey(keyId: "k1", publicKey: key.publicKey)] }

    init() async throws {
        directory = try temporaryDirectory()
        repository = try await SQLiteAuditRepository.open(path: directory + "/acgs.sqlite")
        writer = try await AuditLogWriter.open(repository: repository)
    }

    /// Appends `count` events one by one, signing a head after each size in `headsAt`.
    func fill(_ count: Int, headsAt sizes: Set<Int> = []) async throws {
        let (start, _) = await writer.head()
        for n in start..<(start + count) {
            _ = try await writer.append(auditEvent(n))
            if sizes.contains(n + 1) { try await signHead() }
        }
    }

    @discardableResult
    func signHead() async throws -> SignedTreeHead {
        let (size, root) = await writer.head()
        let bytes = SignedTreeHead.signedBytes(treeSize: size, rootHash: root, timestamp: "2026-11-22T12:00:00.000Z", constitutionalHash: "cdd01ef066bc6cf2", keyId: "k1")
        let head = SignedTreeHead(
            treeSize: size, rootHash: root, timestamp: "2026-11-22T12:00:00.000Z", constitutionalHash: "cdd01ef066bc6cf2", keyId: "k1",
            signature: Array(try key.signature(for: bytes)))
        try await repository.appendHead(head)
        return head
    }

    /// Runs SQL on a connection of its own, as someone with access to the file would.
    func tamper(_ statements: [String]) async throws {
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        for sql in statements { _ = try await connection.query(sql) }
        try await connection.close()
    }

    func close() async throws {
        try await repository.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

@Suite("Audit log on SQLite")
struct AuditStoreTests {
    @Test func concurrentAppendsAreGroupCommittedAtConsecutiveIndicesWithTheirDecisions() async throws {
        let log = try await StoredLog()
        let indices = try await withThrowingTaskGroup(of: (String, Int).self) { group in
            for i in 0..<200 {
                group.addTask {
                    let id = "dec-\(i)"
                    return (id, try await log.writer.append(decisionEvent(id)))
                }
            }
            var all: [(String, Int)] = []
            for try await pair in group { all.append(pair) }
            return all
        }
        #expect(Set(indices.map(\.1)) == Set(0..<200))
        for (id, index) in indices.prefix(20) {
            #expect(try await log.repository.find(id: id)?.auditIndex == index, "the decision is found at its entry")
        }
        let stored = try await log.repository.entries(AuditEntryQuery(limit: 1_000))
        #expect(stored.map(\.index) == Array(0..<200))
        // Every leaf and completed subtree was stored with the entries: the root from the store is the
        // RFC 6962 root of the entries.
        let leaves = stored.map { MerkleHash.leaf(Array($0.text.utf8)) }
        #expect(try await StoredTreeProofs(fetch: log.repository.nodes).root(treeSize: 200) == MerkleTree.root(of: leaves))
        #expect(await log.writer.head().root == MerkleTree.root(of: leaves))
        try await log.signHead()
        #expect(try await log.repository.verify(keys: log.keys).valid)
        try await log.close()
    }

    @Test func aReopenedLogContinuesTheSameTree() async throws {
        let log = try await StoredLog()
        try await log.fill(13)
        let reopened = try await AuditLogWriter.open(repository: log.repository)
        #expect(await reopened.head().size == 13)
        #expect(await reopened.head().root == log.writer.head().root)
        _ = try await reopened.append(auditEvent(13))
        let texts = try await log.repository.entries(AuditEntryQuery(limit: 100)).map(\.text)
        #expect(await reopened.head().root == MerkleTree.root(of: texts.map { MerkleHash.leaf(Array($0.utf8)) }))
        try await log.close()
    }

    @Test func twoProcessesAppendingToOneFileNeverFork() async throws {
        // A server and an offline command (`acgs agent create`) each hold a writer on the same file.
        let log = try await StoredLog()
        let other = try await SQLiteAuditRepository.open(path: log.path)
        let otherWriter = try await AuditLogWriter.open(repository: other)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<60 {
                group.addTask { _ = try await (i % 2 == 0 ? log.writer : otherWriter).append(auditEvent(i)) }
            }
            try await group.waitForAll()
        }
        let stored = try await log.repository.entries(AuditEntryQuery(limit: 100))
        #expect(stored.map(\.index) == Array(0..<60))
        let refreshed = try await AuditLogWriter.open(repository: log.repository)
        #expect(await refreshed.head().root == MerkleTree.root(of: stored.map { MerkleHash.leaf(Array($0.text.utf8)) }))
        // Whichever writer appends next continues after the other's entries.
        _ = try await log.writer.append(auditEvent(60))
        _ = try await log.signHead()
        #expect(try await log.repository.verify(keys: log.keys).valid)
        try await other.close()
        try await log.close()
    }

    @Test func aFailedCommitLeavesNoTraceAndTheLogContinues() async throws {
        let repository = InMemoryAuditRepository()
        let writer = try await AuditLogWriter.open(repository: repository)
        _ = try await writer.append(auditEvent(0))
        await repository.setFailing(true)
        await #expect(throws: AuditStoreError.unavailable) { try await writer.append(auditEvent(1)) }
        #expect(await writer.head().size == 1, "a head is never signed over an entry that was not stored")
        await repository.setFailing(false)
        #expect(try await writer.append(auditEvent(2)) == 1)
        let texts = try await repository.entries(AuditEntryQuery(limit: 10)).map(\.text)
        #expect(texts.count == 2)
        #expect(await writer.head().root == MerkleTree.root(of: texts.map { MerkleHash.leaf(Array($0.utf8)) }))
    }

    @Test func entriesAreFilteredAndPaged() async throws {
        let log = try await StoredLog()
        for i in 0..<30 { _ = try await log.writer.append(auditEvent(i, type: i % 3 == 0 ? .decision : .auth, actor: i % 2 == 0 ? "even" : "odd")) }
        let decisions = try await log.repository.entries(AuditEntryQuery(limit: 100, type: .decision))
        #expect(decisions.map(\.index) == Array(stride(from: 0, to: 30, by: 3)))
        let evenDecisions = try await log.repository.entries(AuditEntryQuery(limit: 100, type: .decision, actor: "even"))
        #expect(evenDecisions.map(\.index) == [0, 6, 12, 18, 24])
        let page = try await log.repository.entries(AuditEntryQuery(after: 9, limit: 5))
        #expect(page.map(\.index) == [10, 11, 12, 13, 14])
        let now = AuditClock.milliseconds(Date())
        #expect(try await log.repository.entries(AuditEntryQuery(limit: 100, since: now + 60_000)).isEmpty)
        #expect(try await log.repository.entries(AuditEntryQuery(limit: 100, until: now + 60_000)).count == 30)
        try await log.close()
    }
}

@Suite("Proofs from the stored tree")
struct StoredProofTests {
    @Test func everyInclusionAndConsistencyProofOfLogsUpTo64VerifiesAndFailsAfterAnyChange() async throws {
        let log = try await StoredLog()
        var leaves: [[UInt8]] = []
        var roots: [[UInt8]] = [MerkleHash.empty]
        for n in 0..<64 {
            _ = try await log.writer.append(auditEvent(n))
            leaves.append(MerkleHash.leaf(Array(try #require(try await log.repository.entry(at: n)).text.utf8)))
            roots.append(MerkleTree.root(of: leaves))
        }
        let proofs = StoredTreeProofs(fetch: log.repository.nodes)
        for size in 1...64 {
            #expect(try await proofs.root(treeSize: size) == roots[size])
            for index in 0..<size {
                let proof = try await proofs.inclusion(index: index, treeSize: size)
                #expect(proof.leafHash == leaves[index])
                #expect(proof.path == (try MerkleTree.inclusionProof(index: index, leafHashes: Array(leaves.prefix(size)))))
                #expect(MerkleTree.verifyInclusion(leafHash: leaves[index], index: index, treeSize: size, proof: proof.path, root: roots[size]))
                for element in proof.path.indices {
                    var changed = proof.path
                    changed[element][element % 32] ^= 0x01
                    #expect(!MerkleTree.verifyInclusion(leafHash: leaves[index], index: index, treeSize: size, proof: changed, root: roots[size]))
                }
                var otherLeaf = leaves[index]
                otherLeaf[0] ^= 0x80
                #expect(!MerkleTree.verifyInclusion(leafHash: otherLeaf, index: index, treeSize: size, proof: proof.path, root: roots[size]))
            }
            for first in 0...size {
                let proof = try await proofs.consistency(first: first, second: size)
                #expect(proof.firstRoot == roots[first])
                #expect(proof.secondRoot == roots[size])
                #expect(MerkleTree.verifyConsistency(first: first, second: size, firstRoot: roots[first], secondRoot: roots[size], proof: proof.proof))
                for element in proof.proof.indices {
                    var changed = proof.proof
                    changed[element][0] ^= 0x01
                    #expect(!MerkleTree.verifyConsistency(first: first, second: size, firstRoot: roots[first], secondRoot: roots[size], proof: changed))
                }
            }
        }
        try await log.close()
    }
}

@Suite("Tampering with a real store")
struct AuditTamperTests {
    /// A log of 20 entries with heads signed at 10 and 20, tampered with by `statements`; returns the
    /// first problem the verifier names.
    func firstProblem(after statements: (StoredLog) async throws -> [String]) async throws -> AuditProblem? {
        let log = try await StoredLog()
        try await log.fill(20, headsAt: [10, 20])
        #expect(try await log.repository.verify(keys: log.keys).valid, "the untouched log verifies")
        try await log.tamper(try await statements(log))
        let report = try await log.repository.verify(keys: log.keys)
        try await log.close()
        return report.problems.first
    }

    @Test func editingOneByteOfAPayloadIsNamed() async throws {
        let problem = try await firstProblem { _ in [#"UPDATE audit_entries SET entry = replace(entry, '"n":5', '"n":6') WHERE idx = 5"#] }
        #expect(problem?.kind == .entryChanged)
        #expect(problem?.index == 5)
    }

    @Test func deletingAnEntryIsNamed() async throws {
        let problem = try await firstProblem { _ in ["DELETE FROM audit_entries WHERE idx = 7"] }
        #expect(problem?.kind == .entryRemoved)
        #expect(problem?.index == 7)
    }

    @Test func swappingTwoEntriesIsNamed() async throws {
        let problem = try await firstProblem { _ in
            [
                "UPDATE audit_entries SET idx = -1 WHERE idx = 3", "UPDATE audit_entries SET idx = 3 WHERE idx = 4",
                "UPDATE audit_entries SET idx = 4 WHERE idx = -1",
            ]
        }
        #expect(problem?.kind == .entryReordered)
        #expect(problem?.index == 3)
    }

    @Test func appendingAForgedEntryIsNamed() async throws {
        let problem = try await firstProblem { _ in
            // A well-formed entry with its leaf hash recorded, as a forger with the file would write it.
            let forged = AuditEntry(index: 20, timestamp: "2026-11-22T12:00:00.000Z", event: auditEvent(99, type: .decision))
            return [
                "INSERT INTO audit_entries (idx, timestamp_ms, type, actor, entry, leaf_hash, completed) VALUES (20, 0, 'decision', 'usr_1', '\(forged.text)', X'\(MerkleHash.hex(forged.leafHash))', X'')",
            ]
        }
        #expect(problem?.kind == .entryUnsigned)
        #expect(problem?.index == 20)
    }

    @Test func replacingASignedHeadIsNamed() async throws {
        let altered = try await firstProblem { _ in ["UPDATE audit_heads SET root_hash = '\(MerkleHash.hex(MerkleHash.empty))' WHERE tree_size = 10"] }
        #expect(altered?.kind == .headSignatureInvalid)
        #expect(altered?.index == 10)
        let resigned = try await firstProblem { log in
            // Signed properly, but by a key the log never published.
            let forger = Curve25519.Signing.PrivateKey()
            let root = MerkleHash.empty
            let bytes = SignedTreeHead.signedBytes(treeSize: 10, rootHash: root, timestamp: "2026-11-22T12:00:00.000Z", constitutionalHash: "cdd01ef066bc6cf2", keyId: "k1")
            let signature = Data(try forger.signature(for: bytes)).base64EncodedString()
            return ["UPDATE audit_heads SET root_hash = '\(MerkleHash.hex(root))', signature = '\(signature)' WHERE tree_size = 10"]
        }
        #expect(resigned?.kind == .headSignatureInvalid)
    }

    @Test func truncatingTheLogIsNamed() async throws {
        let problem = try await firstProblem { _ in ["DELETE FROM audit_entries WHERE idx >= 15"] }
        #expect(problem?.kind == .logTruncated)
        #expect(problem?.index == 15)
    }

    @Test func corruptingTheStoredTreeIsNamed() async throws {
        // Entry 15 completes the subtree (level 4, index 0) of the first 16 leaves, stored with it.
        let problem = try await firstProblem { _ in ["UPDATE audit_entries SET completed = zeroblob(128) WHERE idx = 15"] }
        #expect(problem?.kind == .storedTreeMismatch)
    }
}
