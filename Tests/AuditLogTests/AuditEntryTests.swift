import Crypto
import Foundation
import GovernanceCore
import Testing

@testable import AuditLog

@Suite("Audit entries")
struct AuditEntryTests {
    static let event = AuditEvent(
        type: .decision, actor: "agt_1", constitutionalHash: "cdd01ef066bc6cf2", subjects: ["dec_1", "agt_1"],
        payload: ["decision_id": "dec_1", "input": ["content": "mail b***@example.com"], "score": 0.85], inputDigest: String(repeating: "a", count: 64))

    @Test func theTextIsTheCanonicalJSONOfTheEntry() throws {
        let entry = AuditEntry(index: 7, timestamp: "2026-11-22T12:00:00.123Z", event: Self.event)
        #expect(entry.text == CanonicalJSON.encode(entry.json))
        #expect(entry.leafHash == MerkleHash.leaf(Array(entry.text.utf8)))
        #expect(entry.json["input_digest"] == .string(String(repeating: "a", count: 64)))
        let without = AuditEvent(
            type: .system, actor: "system", constitutionalHash: "cdd01ef066bc6cf2", payload: ["event": "started", "note": "tab\there \"quoted\""])
        let plain = AuditEntry(index: 0, timestamp: "2026-11-22T12:00:00.123Z", event: without)
        #expect(plain.text == CanonicalJSON.encode(plain.json))
        #expect(!plain.text.contains("input_digest"))
    }

    @Test func readsBackExactlyWhatWasWritten() throws {
        let entry = AuditEntry(index: 42, timestamp: "2026-01-31T23:59:59.999Z", event: Self.event)
        #expect(try AuditEntry(text: entry.text) == entry)
    }

    @Test(arguments: [
        (#"{"index":1}"#, "malformed"),
        ("not json", "malformed"),
        // The same entry with white space: well-formed, but not the bytes that were hashed.
        (#"{"actor":"a", "constitutional_hash":"h","index":0,"payload":{},"subjects":[],"timestamp":"2026-11-22T12:00:00.000Z","type":"system"}"#, "canonical"),
        (#"{"actor":"a","constitutional_hash":"h","index":0,"payload":{},"subjects":[],"timestamp":"2026-11-22T12:00:00.000Z","type":"other"}"#, "malformed"),
        (#"{"actor":"a","constitutional_hash":"h","index":-1,"payload":{},"subjects":[],"timestamp":"2026-11-22T12:00:00.000Z","type":"system"}"#, "malformed"),
        (#"{"actor":"a","constitutional_hash":"h","extra":1,"index":0,"payload":{},"subjects":[],"timestamp":"2026-11-22T12:00:00.000Z","type":"system"}"#, "malformed"),
        (#"{"actor":"a","constitutional_hash":"h","index":0,"payload":{},"subjects":[],"timestamp":"2026-02-30T12:00:00.000Z","type":"system"}"#, "malformed"),
    ])
    func refusesAnythingButACanonicalEntry(text: String, kind: String) {
        #expect {
            try AuditEntry(text: text)
        } throws: { error in
            guard let error = error as? AuditEntryError else { return false }
            return kind == "canonical" ? error == .notCanonical : error != .notCanonical
        }
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (Int64(1_700_000_000_123), "2023-11-14T22:13:20.123Z"),
        (Int64(951_782_400_000), "2000-02-29T00:00:00.000Z"),
        (Int64(-1), "1969-12-31T23:59:59.999Z"),
        (Int64(253_402_300_799_999), "9999-12-31T23:59:59.999Z"),
    ])
    func timesAreRFC3339WithMilliseconds(milliseconds: Int64, text: String) {
        #expect(AuditClock.format(milliseconds: milliseconds) == text)
        #expect(AuditClock.milliseconds(text) == milliseconds)
    }

    @Test func yearsPastFourDigitsAreWrittenInFull() {
        // 10000-01-01: outside the fixed-width fast path, still formatted (and not mistaken for a
        // time `milliseconds(_:)` reads, which are 24 characters).
        #expect(AuditClock.format(milliseconds: 253_402_300_800_000) == "10000-01-01T00:00:00.000Z")
    }

    @Test func timesAgreeWithFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for ms in stride(from: Int64(1_600_000_000_000), to: 1_900_000_000_000, by: 7_777_777_777) {
            let date = Date(timeIntervalSince1970: Double(ms) / 1000)
            #expect(AuditClock.format(milliseconds: ms) == formatter.string(from: date))
        }
    }
}

@Suite("Signed tree heads")
struct SignedTreeHeadTests {
    static func signed(size: Int = 3, root: [UInt8] = MerkleHash.leaf([1]), key: Curve25519.Signing.PrivateKey) throws -> SignedTreeHead {
        let bytes = SignedTreeHead.signedBytes(treeSize: size, rootHash: root, timestamp: "2026-11-22T12:00:00.000Z", constitutionalHash: "cdd01ef066bc6cf2", keyId: "k1")
        return SignedTreeHead(
            treeSize: size, rootHash: root, timestamp: "2026-11-22T12:00:00.000Z", constitutionalHash: "cdd01ef066bc6cf2", keyId: "k1",
            signature: Array(try key.signature(for: bytes)))
    }

    @Test func verifiesUnderItsKeyAndNotAfterAnyChange() throws {
        let key = Curve25519.Signing.PrivateKey()
        let head = try Self.signed(key: key)
        #expect(head.isSigned(by: key.publicKey))
        #expect(!head.isSigned(by: Curve25519.Signing.PrivateKey().publicKey))
        var changes: [SignedTreeHead] = []
        for change in 0..<5 {
            var h = head
            switch change {
            case 0: h.treeSize += 1
            case 1: h.rootHash[0] ^= 1
            case 2: h.timestamp = "2026-11-22T12:00:00.001Z"
            case 3: h.constitutionalHash = "0000000000000000"
            default: h.keyId = "k2"
            }
            changes.append(h)
        }
        for changed in changes { #expect(!changed.isSigned(by: key.publicKey)) }
    }

    @Test func theSignedMessageIsDocumentedCanonicalJSON() throws {
        let bytes = SignedTreeHead.signedBytes(
            treeSize: 8, rootHash: MerkleHash.empty, timestamp: "2026-11-22T12:00:00.000Z", constitutionalHash: "cdd01ef066bc6cf2", keyId: "k1")
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == #"{"constitutional_hash":"cdd01ef066bc6cf2","key_id":"k1","root_hash":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","timestamp":"2026-11-22T12:00:00.000Z","tree_size":8,"type":"acgs-tree-head/v1"}"#)
    }

    @Test func jsonRoundTrips() throws {
        let key = Curve25519.Signing.PrivateKey()
        let head = try Self.signed(key: key)
        #expect(SignedTreeHead(json: head.json) == head)
        let publicKey = AuditPublicKey(keyId: "k1", publicKey: key.publicKey, retiredAt: Date(timeIntervalSince1970: 1_700_000_000))
        #expect(AuditPublicKey(json: publicKey.json) == publicKey)
    }
}
