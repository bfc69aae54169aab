import AuditLog
import Crypto
import Foundation
import GovernanceCore
import Logging
import SQLiteNIO
import TestServers
import Testing

@testable import Storage

/// An event numbered `n`, as services append them.
func auditEvent(_ n: Int, type: AuditEntryType = .auth, actor: String = "usr_1") -> AuditEvent {
    AuditEvent(type: type, actor: actor, constitutionalHash: "cdd01ef066bc6cf2", subjects: ["s\(n)"], payload: ["n": .number(Double(n))])
}

/// The stores the audit log runs on; the tests of this file run on each.
enum AuditBackend: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// A log on a real store (a SQLite file, or a PostgreSQL database of its own), with a key that
/// signs its heads.
struct StoredLog {
    let backend: AuditBackend
    let directory: String
    let repository: any AuditRepository
    let writer: AuditLogWriter
    let postgres: RunningPostgres?
    let key = Curve25519.Signing.PrivateKey()
    var path: String { directory + "/acgs.sqlite" }
    var keys: [AuditPublicKey] { [AuditPublicKey(keyId: "k1", publicKey: key.publicKey)] }

    init(_ backend: AuditBackend = .sqlite) async throws {
        self.backend = backend
        directory = try temporaryDirectory()
        switch backend {
        case .sqlite:
            postgres = nil
            repository = try await SQLiteAuditRepository.open(path: directory + "/acgs.sqlite")
        case .postgres:
            let running = try await RunningPostgres.fresh()
            postgres = running
            repository = PostgresAuditRepository(store: running.store)
        }
        writer = try await AuditLogWriter.open(repository: repository)
    }

    /// A second writer's view of the same store: another process on the file, another replica on
    /// the database. Closed with the log.
    func anotherRepository() async throws -> any AuditRepository {
        switch backend {
        case .sqlite: try await SQLiteAuditRepository.open(path: path)
        case .postgres: PostgresAuditRepository(store: try await RunningPostgres.connect(to: postgres!.url).store)
        }
    }

    /// A binary literal in the store's SQL.
    func blob(hex: String) -> String {
        backend == .sqlite ? "X'\(hex)'" : "decode('\(hex)', 'hex')"
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
        let (size, root) = try await writer.storedHead()
        let bytes = SignedTreeHead.signedBytes(treeSize: size, rootHash: root, timestamp: "2026-11-22T12:00:00.000Z", constitutionalHash: "cdd01ef066bc6cf2", keyId: "k1")
        let head = SignedTreeHead(
            treeSize: size, rootHash: root, timestamp: "2026-11-22T12:00:00.000Z", constitutionalHash: "cdd01ef066bc6cf2", keyId: "k1",
            signature: Array(try key.signature(for: bytes)))
        try await repository.appendHead(head)
        return head
    }

    /// Runs SQL on a connection of its own, as someone with access to the store would.
    func tamper(_ statements: [String]) async throws {
        if let postgres {
            let database = postgres.store.location.database
            for sql in statements { try await onOwnThread { try PostgresServer.shared().psql(sql, database: database) } }
            return
        }
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        for sql in statements { _ = try await connection.query(sql) }
        try await connection.close()
    }

    func close() async throws {
        try await (repository as? SQLiteAuditRepository)?.close()
        postgres?.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

@Suite("Audit log on each store")
struct AuditStoreTests {
    @Test(arguments: AuditBackend.allCases)
    func concurrentAppendsAreGroupCommittedAtConsecutiveIndicesWithTheirDecisions(backend: AuditBackend) async throws {
        let log = try await StoredLog(backend)
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

    @Test(arguments: AuditBackend.allCases)
    func oneLargeAppendIsStoredWholeAtConsecutiveIndices(backend: AuditBackend) async throws {
        // 301 entries: SQLite inserts them as 256 + 32 + 8 + 4 + 1 rows, in one transaction.
        let log = try await StoredLog(backend)
        _ = try await log.writer.append(auditEvent(0))
        let indices = try await log.writer.append((1...301).map { auditEvent($0) })
        #expect(indices == Array(1...301))
        let stored = try await log.repository.entries(AuditEntryQuery(limit: 1_000))
        #expect(stored.map(\.index) == Array(0...301))
        #expect(stored.map(\.subject) == (0...301).map { "s\($0)" }, "each entry is the event appended at its position")
        let leaves = stored.map { MerkleHash.leaf(Array($0.text.utf8)) }
        #expect(try await StoredTreeProofs(fetch: log.repository.nodes).root(treeSize: 302) == MerkleTree.root(of: leaves))
        try await log.close()
    }

    @Test func sqliteInsertsABatchWithNineStatementsAtMost() {
        var statements = Set<String>()
        for count in 1...1_100 {
            let chunks = SQLiteAuditRepository.chunks(of: count)
            #expect(chunks.map(\.rows).reduce(0, +) == count)
            #expect(chunks.allSatisfy { $0.rows <= 256 && $0.rows.nonzeroBitCount == 1 })
            statements.formUnion(chunks.map(\.sql))
        }
        #expect(statements.count == 9, "one prepared statement per power of two up to 256")
    }

    @Test(arguments: AuditBackend.allCases)
    func aReopenedLogContinuesTheSameTree(backend: AuditBackend) async throws {
        let log = try await StoredLog(backend)
        try await log.fill(13)
        let reopened = try await AuditLogWriter.open(repository: log.repository)
        #expect(await reopened.head().size == 13)
        #expect(await reopened.head().root == log.writer.head().root)
        _ = try await reopened.append(auditEvent(13))
        let texts = try await log.repository.entries(AuditEntryQuery(limit: 100)).map(\.text)
        #expect(await reopened.head().root == MerkleTree.root(of: texts.map { MerkleHash.leaf(Array($0.utf8)) }))
        try await log.close()
    }

    @Test(arguments: AuditBackend.allCases)
    func twoWritersAppendingToOneStoreNeverFork(backend: AuditBackend) async throws {
        // On SQLite: a server and an offline command (`acgs agent create`) on the same file. On
        // PostgreSQL: two replicas.
        let log = try await StoredLog(backend)
        let other = try await log.anotherRepository()
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
        try await (other as? SQLiteAuditRepository)?.close()
        try await log.close()
    }

    @Test func aBatchQueuedBehindOneThatFailedIsRefusedSoTheLogNeverHoldsATreeItWasNotBuiltOn() async throws {
        // The embedded log queues each batch while the one before it commits, built on the tree that
        // one leaves. Here the first fails (another process took its index), so the second, built on
        // the first's leaf, must not be written either.
        let log = try await StoredLog(.sqlite)
        try await log.fill(3)
        let repository = try #require(log.repository as? SQLiteAuditRepository)
        var tree = try await AuditTreeState.stored(in: repository)
        let other = try await log.anotherRepository()
        _ = try await AuditLogWriter.open(repository: other).append(auditEvent(100))
        let milliseconds = AuditClock.milliseconds(Date())
        let (first, _) = try AuditTreeState.build([[auditEvent(3)]], on: &tree, milliseconds: milliseconds)
        let (second, _) = try AuditTreeState.build([[auditEvent(4)]], on: &tree, milliseconds: milliseconds)
        let chain = AuditAppendChain()
        let queuedFirst = repository.beginAppend(first, generation: 1, chain: chain)
        let queuedSecond = repository.beginAppend(second, generation: 1, chain: chain)
        await #expect(throws: AuditStoreError.indexTaken) { try await queuedFirst.value() }
        await #expect(throws: AuditStoreError.earlierAppendFailed) { try await queuedSecond.value() }
        #expect(try await repository.size() == 4, "only the other process's entry was added")

        // The next generation, built on the tree as stored, is written.
        var stored = try await AuditTreeState.stored(in: repository)
        let (third, indices) = try AuditTreeState.build([[auditEvent(5)]], on: &stored, milliseconds: milliseconds)
        try await repository.beginAppend(third, generation: 2, chain: chain).value()
        #expect(indices == [[4]])
        let writer = try await AuditLogWriter.open(repository: repository)
        #expect(await writer.head().size == 5)
        let texts = try await repository.entries(AuditEntryQuery(limit: 10)).map(\.text)
        #expect(await writer.head().root == MerkleTree.root(of: texts.map { MerkleHash.leaf(Array($0.utf8)) }))
        try await (other as? SQLiteAuditRepository)?.close()
        try await log.close()
    }

    @Test func concurrentAppendsBehindAnotherProcessesEntryAllLandOnOneTree() async throws {
        // The server's log believes it knows the tree, another process appends, then many requests
        // append at once: the batches queued on the stale tree fail and are built again, invisibly.
        let log = try await StoredLog(.sqlite)
        try await log.fill(2)
        let other = try await log.anotherRepository()
        _ = try await AuditLogWriter.open(repository: other).append(auditEvent(100))
        let indices = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<100 { group.addTask { try await log.writer.append(auditEvent(i)) } }
            var all: [Int] = []
            for try await index in group { all.append(index) }
            return all
        }
        #expect(indices.sorted() == Array(3..<103))
        let texts = try await log.repository.entries(AuditEntryQuery(limit: 200)).map(\.text)
        #expect(texts.count == 103)
        #expect(await log.writer.head().root == MerkleTree.root(of: texts.map { MerkleHash.leaf(Array($0.utf8)) }))
        try await log.signHead()
        #expect(try await log.repository.verify(keys: log.keys).valid)
        try await (other as? SQLiteAuditRepository)?.close()
        try await log.close()
    }

    @Test func whileTheFileRefusesEntriesEveryAppendFailsAndAfterwardsTheLogContinuesWhole() async throws {
        // A real write error on the embedded store, with many batches queued behind one another.
        let log = try await StoredLog(.sqlite)
        try await log.fill(5)
        let admin = try await SQLiteDatabase.open(path: log.path, logger: Logger(label: "test")) { _ in }
        do {
            try await Self.appendWhileRefusedThenAfter(log, refusingWith: admin)
        } catch {
            // A connection left open fails its deinit: close it before reporting the failure.
            try? await admin.close()
            try? await log.close()
            throw error
        }
        try await admin.close()
        try await log.close()
    }

    private static func appendWhileRefusedThenAfter(_ log: StoredLog, refusingWith admin: SQLiteConnection) async throws {
        _ = try await admin.query("CREATE TABLE refusing (active INTEGER NOT NULL)")
        _ = try await admin.query("INSERT INTO refusing VALUES (1)")
        _ = try await admin.query(
            "CREATE TRIGGER refuse_entries BEFORE INSERT ON audit_entries WHEN (SELECT active FROM refusing) BEGIN SELECT RAISE(ABORT, 'refused'); END")
        let refused = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<100 { group.addTask { (try? await log.writer.append(auditEvent(i))) == nil } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(refused == 100, "no append is acknowledged while its entry cannot be written")
        #expect(await log.writer.head().size == 5)
        #expect(try await log.repository.size() == 5)

        _ = try await admin.query("UPDATE refusing SET active = 0")
        let indices = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<100 { group.addTask { try await log.writer.append(auditEvent(i)) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(indices.sorted() == Array(5..<105))
        let texts = try await log.repository.entries(AuditEntryQuery(limit: 200)).map(\.text)
        #expect(await log.writer.head().root == MerkleTree.root(of: texts.map { MerkleHash.leaf(Array($0.utf8)) }))
        try await log.signHead()
        #expect(try await log.repository.verify(keys: log.keys).valid)
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

    @Test(arguments: AuditBackend.allCases)
    func entriesAreFilteredAndPaged(backend: AuditBackend) async throws {
        let log = try await StoredLog(backend)
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
    @Test(arguments: AuditBackend.allCases)
    func everyInclusionAndConsistencyProofOfLogsUpTo64VerifiesAndFailsAfterAnyChange(backend: AuditBackend) async throws {
        let log = try await StoredLog(backend)
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
    func firstProblem(_ backend: AuditBackend, after statements: (StoredLog) async throws -> [String]) async throws -> AuditProblem? {
        let log = try await StoredLog(backend)
        try await log.fill(20, headsAt: [10, 20])
        #expect(try await log.repository.verify(keys: log.keys).valid, "the untouched log verifies")
        try await log.tamper(try await statements(log))
        let report = try await log.repository.verify(keys: log.keys)
        try await log.close()
        return report.problems.first
    }

    @Test(arguments: AuditBackend.allCases)
    func editingOneByteOfAPayloadIsNamed(backend: AuditBackend) async throws {
        let problem = try await firstProblem(backend) { _ in [#"UPDATE audit_entries SET entry = replace(entry, '"n":5', '"n":6') WHERE idx = 5"#] }
        #expect(problem?.kind == .entryChanged)
        #expect(problem?.index == 5)
    }

    @Test(arguments: AuditBackend.allCases)
    func deletingAnEntryIsNamed(backend: AuditBackend) async throws {
        let problem = try await firstProblem(backend) { _ in ["DELETE FROM audit_entries WHERE idx = 7"] }
        #expect(problem?.kind == .entryRemoved)
        #expect(problem?.index == 7)
    }

    @Test(arguments: AuditBackend.allCases)
    func swappingTwoEntriesIsNamed(backend: AuditBackend) async throws {
        let problem = try await firstProblem(backend) { _ in
            [
                "UPDATE audit_entries SET idx = -1 WHERE idx = 3", "UPDATE audit_entries SET idx = 3 WHERE idx = 4",
                "UPDATE audit_entries SET idx = 4 WHERE idx = -1",
            ]
        }
        #expect(problem?.kind == .entryReordered)
        #expect(problem?.index == 3)
    }

    @Test(arguments: AuditBackend.allCases)
    func appendingAForgedEntryIsNamed(backend: AuditBackend) async throws {
        let problem = try await firstProblem(backend) { log in
            // A well-formed entry with its leaf hash recorded, as a forger with the file would write it.
            let forged = AuditEntry(index: 20, timestamp: "2026-11-22T12:00:00.000Z", event: auditEvent(99, type: .decision))
            return [
                "INSERT INTO audit_entries (idx, timestamp_ms, type, actor, entry, leaf_hash, completed) VALUES (20, 0, 'decision', 'usr_1', '\(forged.text)', \(log.blob(hex: MerkleHash.hex(forged.leafHash))), \(log.blob(hex: "")))",
            ]
        }
        #expect(problem?.kind == .entryUnsigned)
        #expect(problem?.index == 20)
    }

    @Test(arguments: AuditBackend.allCases)
    func replacingASignedHeadIsNamed(backend: AuditBackend) async throws {
        let altered = try await firstProblem(backend) { _ in ["UPDATE audit_heads SET root_hash = '\(MerkleHash.hex(MerkleHash.empty))' WHERE tree_size = 10"] }
        #expect(altered?.kind == .headSignatureInvalid)
        #expect(altered?.index == 10)
        let resigned = try await firstProblem(backend) { log in
            // Signed properly, but by a key the log never published.
            let forger = Curve25519.Signing.PrivateKey()
            let root = MerkleHash.empty
            let bytes = SignedTreeHead.signedBytes(treeSize: 10, rootHash: root, timestamp: "2026-11-22T12:00:00.000Z", constitutionalHash: "cdd01ef066bc6cf2", keyId: "k1")
            let signature = Data(try forger.signature(for: bytes)).base64EncodedString()
            return ["UPDATE audit_heads SET root_hash = '\(MerkleHash.hex(root))', signature = '\(signature)' WHERE tree_size = 10"]
        }
        #expect(resigned?.kind == .headSignatureInvalid)
    }

    @Test(arguments: AuditBackend.allCases)
    func truncatingTheLogIsNamed(backend: AuditBackend) async throws {
        let problem = try await firstProblem(backend) { _ in ["DELETE FROM audit_entries WHERE idx >= 15"] }
        #expect(problem?.kind == .logTruncated)
        #expect(problem?.index == 15)
    }

    @Test(arguments: AuditBackend.allCases)
    func corruptingTheStoredTreeIsNamed(backend: AuditBackend) async throws {
        // Entry 15 completes the subtree (level 4, index 0) of the first 16 leaves, stored with it.
        let problem = try await firstProblem(backend) { log in
            ["UPDATE audit_entries SET completed = \(log.blob(hex: String(repeating: "00", count: 128))) WHERE idx = 15"]
        }
        #expect(problem?.kind == .storedTreeMismatch)
    }
}

@Suite("Audit log shared by replicas")
struct SharedAuditLogTests {
    @Test func threeReplicasAppendingAtOnceMakeOneLogThatVerifies() async throws {
        let log = try await StoredLog(.postgres)
        let url = try #require(log.postgres?.url)
        var replicas: [RunningPostgres] = []
        var writers: [AuditLogWriter] = []
        for _ in 0..<3 {
            let replica = try await RunningPostgres.connect(to: url)
            replicas.append(replica)
            writers.append(try await AuditLogWriter.open(repository: PostgresAuditRepository(store: replica.store)))
        }
        let acknowledged = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<300 {
                let writer = writers[i % 3]
                group.addTask { try await writer.append(decisionEvent("dec-\(i)")) }
            }
            var indices: [Int] = []
            for try await index in group { indices.append(index) }
            return indices
        }
        #expect(acknowledged.sorted() == Array(0..<300), "every acknowledged entry has an index of its own, with no gap")
        let stored = try await log.repository.entries(AuditEntryQuery(limit: 1_000))
        let root = MerkleTree.root(of: stored.map { MerkleHash.leaf(Array($0.text.utf8)) })
        for writer in writers {
            #expect(try await writer.storedHead() == (300, root) as (Int, [UInt8]))
        }
        try await log.signHead()
        let report = try await log.repository.verify(keys: log.keys)
        #expect(report.valid, "\(report.problems)")
        for replica in replicas { replica.stop() }
        try await log.close()
    }

    @Test func storedHeadsNeverGoBackInSize() async throws {
        let log = try await StoredLog(.postgres)
        try await log.fill(5)
        let small = try await log.signHead()
        try await log.fill(5)
        try await log.signHead()
        // A replica that signed over the smaller log a moment too late is refused, not stored.
        await #expect(throws: AuditStoreError.staleHead) { try await log.repository.appendHead(small) }
        #expect(try await log.repository.heads().map(\.treeSize) == [5, 10])
        try await log.close()
    }
}
