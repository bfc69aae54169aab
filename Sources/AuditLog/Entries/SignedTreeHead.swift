import Crypto
import Foundation
import GovernanceCore

/// A commitment to the whole log at one size: its root, when, under which constitution, signed.
///
/// The signature covers the canonical JSON of every field but the signature itself, with a `type`
/// that separates it from anything else the key could ever sign:
///
///     {"constitutional_hash":"…","key_id":"…","root_hash":"<hex>","timestamp":"…","tree_size":N,"type":"acgs-tree-head/v1"}
public struct SignedTreeHead: Sendable, Equatable {
    public var treeSize: Int
    public var rootHash: [UInt8]
    /// RFC 3339, UTC, milliseconds (see `AuditClock`).
    public var timestamp: String
    public var constitutionalHash: String
    public var keyId: String
    public var signature: [UInt8]

    public init(treeSize: Int, rootHash: [UInt8], timestamp: String, constitutionalHash: String, keyId: String, signature: [UInt8]) {
        self.treeSize = treeSize
        self.rootHash = rootHash
        self.timestamp = timestamp
        self.constitutionalHash = constitutionalHash
        self.keyId = keyId
        self.signature = signature
    }

    public static let signatureType = "acgs-tree-head/v1"

    /// The bytes the signature is over.
    public static func signedBytes(treeSize: Int, rootHash: [UInt8], timestamp: String, constitutionalHash: String, keyId: String) -> [UInt8] {
        let value: JSONValue = [
            "constitutional_hash": .string(constitutionalHash), "key_id": .string(keyId), "root_hash": .string(MerkleHash.hex(rootHash)),
            "timestamp": .string(timestamp), "tree_size": .number(Double(treeSize)), "type": .string(signatureType),
        ]
        return Array(CanonicalJSON.encode(value).utf8)
    }

    public var signedBytes: [UInt8] {
        Self.signedBytes(treeSize: treeSize, rootHash: rootHash, timestamp: timestamp, constitutionalHash: constitutionalHash, keyId: keyId)
    }

    /// Whether the signature is valid under `key`.
    public func isSigned(by key: Curve25519.Signing.PublicKey) -> Bool {
        key.isValidSignature(signature, for: signedBytes)
    }

    public var json: JSONValue {
        [
            "tree_size": .number(Double(treeSize)), "root_hash": .string(MerkleHash.hex(rootHash)), "timestamp": .string(timestamp),
            "constitutional_hash": .string(constitutionalHash), "key_id": .string(keyId),
            "signature": .string(Data(signature).base64EncodedString()),
        ]
    }

    /// Reads a head written by `json`; nil when a field is missing or of the wrong form.
    public init?(json value: JSONValue) {
        guard let size = value["tree_size"].numberValue, size >= 0, size == size.rounded(),
            let root = value["root_hash"].stringValue.flatMap(MerkleHash.bytes(hex:)), root.count == MerkleHash.size,
            let timestamp = value["timestamp"].stringValue, let hash = value["constitutional_hash"].stringValue,
            let keyId = value["key_id"].stringValue,
            let signature = value["signature"].stringValue.flatMap({ Data(base64Encoded: $0) })
        else { return nil }
        self.init(treeSize: Int(size), rootHash: root, timestamp: timestamp, constitutionalHash: hash, keyId: keyId, signature: Array(signature))
    }
}

/// A public key that signed (or signs) tree heads.
public struct AuditPublicKey: Sendable, Equatable {
    public var keyId: String
    public var publicKey: Curve25519.Signing.PublicKey
    /// When the key stopped signing; nil for the active key.
    public var retiredAt: Date?

    public init(keyId: String, publicKey: Curve25519.Signing.PublicKey, retiredAt: Date? = nil) {
        self.keyId = keyId
        self.publicKey = publicKey
        self.retiredAt = retiredAt
    }

    public static func == (a: AuditPublicKey, b: AuditPublicKey) -> Bool {
        a.keyId == b.keyId && a.publicKey.rawRepresentation == b.publicKey.rawRepresentation && a.retiredAt == b.retiredAt
    }

    public var json: JSONValue {
        var fields: [String: JSONValue] = [
            "key_id": .string(keyId), "algorithm": "Ed25519",
            "public_key": .string(publicKey.rawRepresentation.base64EncodedString()),
            "status": .string(retiredAt == nil ? "active" : "retired"),
        ]
        if let retiredAt { fields["retired_at"] = .string(AuditClock.format(retiredAt)) }
        return .object(fields)
    }

    public init?(json value: JSONValue) {
        guard let keyId = value["key_id"].stringValue, let encoded = value["public_key"].stringValue,
            let raw = Data(base64Encoded: encoded), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
        else { return nil }
        let retired = value["retired_at"].stringValue.flatMap(AuditClock.milliseconds).map { Date(timeIntervalSince1970: Double($0) / 1000) }
        self.init(keyId: keyId, publicKey: key, retiredAt: retired)
    }
}

/// What signs tree heads: the active key of a key ring that keeps its retired public keys.
public protocol TreeHeadKeyRing: Sendable {
    /// Signs `message` with the active key; returns the key's id and the signature.
    func sign(_ message: @Sendable (String) -> [UInt8]) async throws -> (keyId: String, signature: [UInt8])
    /// Every key that ever signed a head still in the log, active first.
    func publicKeys() async throws -> [AuditPublicKey]
}
