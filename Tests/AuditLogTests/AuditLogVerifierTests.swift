import Crypto
import GovernanceCore
import Testing

@testable import AuditLog

/// A log built in memory: entries, their leaf hashes, and heads signed at chosen sizes.
struct SampleLog {
    let key = Curve25519.Signing.PrivateKey()
    var texts: [String] = []
    var heads: [SignedTreeHead] = []

    init(size: Int, headsAt sizes: [Int]) throws {
        for i in 0..<size {
            let event = AuditEvent(type: .auth, actor: "usr_\(i % 3)", constitutionalHash: "cdd01ef066bc6cf2", subjects: ["s\(i)"], payload: ["n": .number(Double(i))])
            texts.append(AuditEntry(index: i, timestamp: AuditClock.format(milliseconds: 1_700_000_000_000 + Int64(i)), event: event).text)
        }
        for size in sizes { heads.append(try sign(size: size)) }
    }

    var leafHashes: [[UInt8]] { texts.map { MerkleHash.leaf(Array($0.utf8)) } }
    var keys: [AuditPublicKey] { [AuditPublicKey(keyId: "k1", publicKey: key.publicKey)] }

    func sign(size: Int, root: [UInt8]? = nil, with signer: Curve25519.Signing.PrivateKey? = nil) throws -> SignedTreeHead {
        let root = root ?? MerkleTree.root(of: Array(leafHashes.prefix(size)))
        let timestamp = "2026-11-22T12:00:00.000Z"
        let bytes = SignedTreeHead.signedBytes(treeSize: size, rootHash: root, timestamp: timestamp, constitutionalHash: "cdd01ef066bc6cf2", keyId: "k1")
        return SignedTreeHead(
            treeSize: size, rootHash: root, timestamp: timestamp, constitutionalHash: "cdd01ef066bc6cf2", keyId: "k1",
            signature: Array(try (signer ?? key).signature(for: bytes)))
    }

    /// Verifies `rows` (position, text, recorded leaf hash) against `heads`.
    func verify(rows: [(Int, String, [UInt8]?)]? = nil, heads: [SignedTreeHead]? = nil) -> AuditVerificationReport {
        let recorded = leafHashes
        let rows = rows ?? texts.enumerated().map { ($0.offset, $0.element, recorded[$0.offset]) }
        var verifier = AuditLogVerifier(keys: keys, heads: heads ?? self.heads)
        for (position, text, leaf) in rows { verifier.check(position: position, text: text, recordedLeafHash: leaf) }
        return verifier.finish()
    }
}

@Suite("Audit log verifier")
struct AuditLogVerifierTests {
    @Test func anUntouchedLogVerifies() throws {
        let log = try SampleLog(size: 10, headsAt: [0, 3, 3, 7, 10])
        let report = log.verify()
        #expect(report.valid, "\(report.problems)")
        #expect(report.entriesChecked == 10)
        #expect(report.headsChecked == 5)
        #expect(report.signedTreeSize == 10)
        #expect(report.rootHash == MerkleTree.root(of: log.leafHashes))
    }

    @Test func aChangedEntryIsNamedWithItsIndex() throws {
        let log = try SampleLog(size: 10, headsAt: [10])
        var rows = log.texts.enumerated().map { ($0.offset, $0.element, Optional(log.leafHashes[$0.offset])) }
        rows[4].1 = rows[4].1.replacingOccurrences(of: #""n":4"#, with: #""n":5"#)
        let report = log.verify(rows: rows)
        #expect(report.problems.first?.kind == .entryChanged)
        #expect(report.problems.first?.index == 4)
        #expect(report.problems.contains { $0.kind == .headRootMismatch && $0.index == 10 })
    }

    @Test func aHeadSignedByAnotherKeyOrAlteredIsRefused() throws {
        let log = try SampleLog(size: 4, headsAt: [])
        var altered = try log.sign(size: 4)
        altered.rootHash[0] ^= 0xff
        let forged = try log.sign(size: 4, with: Curve25519.Signing.PrivateKey())
        for head in [altered, forged] {
            let report = log.verify(heads: [head])
            #expect(report.problems.first?.kind == .headSignatureInvalid)
            #expect(report.signedTreeSize == nil)
            #expect(report.problems.contains { $0.kind == .entryUnsigned }, "nothing valid vouches for the entries")
        }
    }

    @Test func aSmallerHeadAfterALargerOneIsARollback() throws {
        let log = try SampleLog(size: 6, headsAt: [6, 4])
        let report = log.verify()
        #expect(report.problems.map(\.kind) == [.headInconsistent])
    }

    @Test func missingTailEntriesAreATruncation() throws {
        let log = try SampleLog(size: 8, headsAt: [8])
        let rows = log.texts.prefix(5).enumerated().map { ($0.offset, $0.element, Optional(log.leafHashes[$0.offset])) }
        let report = log.verify(rows: Array(rows))
        #expect(report.problems.first?.kind == .logTruncated)
        #expect(report.problems.first?.index == 5)
    }

    @Test func entriesNoHeadCoversAreReported() throws {
        let log = try SampleLog(size: 8, headsAt: [6])
        let report = log.verify()
        #expect(report.problems.map(\.kind) == [.entryUnsigned])
        #expect(report.problems.first?.index == 6)
    }
}
