import Crypto
import Foundation
import GovernanceCore
import JWTKit
import Logging

/// Ed25519 signing keys persisted in a directory (created 0700; each key file 0600, owner only), each with a `kid`.
/// One key is active (signs); rotated-out keys keep verifying until `retiredKeyLifetime` after their retirement
/// (set it to at least the access-token lifetime), then are pruned.
///
/// Key file format: one JSON file per key, named `ed25519-<kid>.json`:
///
///     {
///       "version": 1,
///       "kid": "<RFC 7638 JWK thumbprint of the public key>",
///       "alg": "EdDSA",
///       "crv": "Ed25519",
///       "public_key": "<base64url, 32 bytes>",
///       "private_key": "<base64url, 32-byte seed; absent once retired>",
///       "created_at": <seconds since 1970>,
///       "retired_at": <seconds since 1970; absent while active>
///     }
///
/// Retiring a key rewrites its file without the private key: a retired key only ever verifies.
/// Every write goes to an owner-only temporary file that is then renamed over the old one, so another
/// process (`acgs keys rotate` next to a running server) sees either the old or the new file.
/// The active key is the newest unretired key that has a private key; older unretired keys (a rotation
/// cut short between writing the new key and retiring the old one) count as retired when it was created.
public actor SigningKeyStore {
    public nonisolated let directory: String
    public nonisolated let retiredKeyLifetime: Duration
    private let now: @Sendable () -> Date
    private let logger: Logger
    private var ring: SigningKeyRing
    /// jwt-kit's signer for the active key, built on first use after each change of active key.
    private var signerCache: (kid: String, keys: JWTKeyCollection)?

    /// Loads the keys in `directory`, or creates it and the first key.
    public init(
        directory: String, retiredKeyLifetime: Duration, now: @escaping @Sendable () -> Date = Date.init,
        logger: Logger = Logger(label: "acgs.identity.keys")
    ) async throws {
        self.directory = directory
        self.retiredKeyLifetime = retiredKeyLifetime
        self.now = now
        self.logger = logger
        self.ring = try Self.load(directory: directory, lifetime: retiredKeyLifetime, now: now(), logger: logger)
    }

    /// The key that signs new tokens.
    public var activeKeyId: String { ring.active.kid }

    /// Creates a new active key; the previous one becomes retired and keeps verifying for `retiredKeyLifetime`.
    /// Returns the new kid.
    @discardableResult
    public func rotate() async throws -> String {
        let now = now()
        // Start from the directory, not memory: another process may have rotated since we last looked.
        var ring = try Self.load(directory: directory, lifetime: retiredKeyLifetime, now: now, logger: logger)
        let fresh = try Self.createKey(in: directory, at: now)
        let retired = ring.active.retired(at: now)
        try Self.write(retired, in: directory)
        ring.retired.insert(retired, at: 0)
        ring.active = fresh
        try Self.prune(&ring, directory: directory, lifetime: retiredKeyLifetime, now: now, logger: logger)
        self.ring = ring
        logger.notice("Rotated signing key", metadata: ["kid": "\(fresh.kid)", "retired_kid": "\(retired.kid)"])
        return fresh.kid
    }

    /// Re-reads the directory, picking up rotations made by another process, and prunes expired keys.
    public func reload() throws {
        ring = try Self.load(directory: directory, lifetime: retiredKeyLifetime, now: now(), logger: logger)
    }

    /// Deletes retired keys whose lifetime has passed. Lookups ignore such keys even before this runs.
    public func prune() throws {
        try Self.prune(&ring, directory: directory, lifetime: retiredKeyLifetime, now: now(), logger: logger)
    }

    /// The keys that verify tokens, active first, then retired ones, most recently retired first.
    public func publicKeys() -> [(kid: String, publicKeyBase64URL: String, retiredAt: Date?)] {
        liveKeys().map { ($0.kid, TokenBase64URL.encode($0.publicKey.rawRepresentation), $0.retiredAt) }
    }

    /// The verifying keys as a JWK Set (RFC 7517), for `/.well-known/jwks.json`.
    public func jwks() -> String {
        let keys = liveKeys().map { key in
            PublicJWK(kty: "OKP", crv: "Ed25519", x: TokenBase64URL.encode(key.publicKey.rawRepresentation), kid: key.kid, alg: "EdDSA", use: "sig")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings cannot fail; the fallback only keeps the signature non-throwing.
        guard let data = try? encoder.encode(PublicJWKSet(keys: keys)) else { return #"{"keys":[]}"# }
        return String(decoding: data, as: UTF8.self)
    }

    /// The verifying keys as keys, active first (see `publicKeys`).
    public func verifyingKeys() -> [(kid: String, publicKey: Curve25519.Signing.PublicKey, retiredAt: Date?)] {
        liveKeys().map { ($0.kid, $0.publicKey, $0.retiredAt) }
    }

    /// Signs the bytes `message(kid)` with the active key (the kid is part of what some signers sign).
    public func sign(_ message: @Sendable (String) -> [UInt8]) throws -> (kid: String, signature: [UInt8]) {
        let active = ring.active
        guard let privateKey = active.privateKey else { throw SigningKeyStoreError.corruptKeyFile(Self.fileName(for: active.kid)) }
        return (active.kid, Array(try privateKey.signature(for: message(active.kid))))
    }

    /// The public keys in a key directory, read without its private keys and without changing anything:
    /// what an offline verifier needs.
    public static func publicKeys(inDirectory directory: String) throws -> [(kid: String, publicKey: Curve25519.Signing.PublicKey, retiredAt: Date?)] {
        var keys: [(String, Curve25519.Signing.PublicKey, Date?)] = []
        for name in try SigningKeyFiles.list(directory).sorted() where name.hasPrefix(filePrefix) && name.hasSuffix(fileSuffix) {
            let path = directory + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else { throw SigningKeyStoreError.io(operation: "read", path: path, errno: EACCES) }
            let key = try decode(data, fileName: name, path: path)
            keys.append((key.kid, key.publicKey, key.retiredAt))
        }
        return keys
    }

    // MARK: - For TokenService

    /// The active kid and a jwt-kit collection holding only its private key.
    func signer() async -> (kid: String, keys: JWTKeyCollection) {
        let active = ring.active
        if let cached = signerCache, cached.kid == active.kid { return cached }
        let keys = JWTKeyCollection()
        if let privateKey = active.privateKey {
            await keys.add(eddsa: EdDSA.PrivateKey(backing: privateKey), kid: JWKIdentifier(string: active.kid))
        }
        // A rotation may have run while we were suspended; cache only what is still current.
        if ring.active.kid == active.kid { signerCache = (active.kid, keys) }
        return (active.kid, keys)
    }

    /// The public key for `kid`; an unknown `kid` makes the directory be read again first (at most
    /// once a second), since another replica sharing it may have rotated.
    func verificationKeyReloadingIfUnknown(for kid: String) -> Curve25519.Signing.PublicKey? {
        if let key = verificationKey(for: kid) { return key }
        let at = now()
        guard lastUnknownKidReload.map({ at.timeIntervalSince($0) >= 1 }) ?? true else { return nil }
        lastUnknownKidReload = at
        try? reload()
        return verificationKey(for: kid)
    }

    private var lastUnknownKidReload: Date?

    /// The public key for `kid`, if it is active or retired but not yet past its lifetime.
    func verificationKey(for kid: String) -> Curve25519.Signing.PublicKey? {
        if ring.active.kid == kid { return ring.active.publicKey }
        guard let key = ring.retired.first(where: { $0.kid == kid }), isLive(key, at: now()) else { return nil }
        return key.publicKey
    }

    // MARK: - Private

    private func liveKeys() -> [SigningKey] {
        let now = now()
        return [ring.active] + ring.retired.filter { isLive($0, at: now) }
    }

    private func isLive(_ key: SigningKey, at now: Date) -> Bool {
        guard let retiredAt = key.retiredAt else { return true }
        return now < retiredAt.addingTimeInterval(retiredKeyLifetime.seconds)
    }

    static let filePrefix = "ed25519-"
    static let fileSuffix = ".json"

    static func fileName(for kid: String) -> String { filePrefix + kid + fileSuffix }

    private static func load(directory: String, lifetime: Duration, now: Date, logger: Logger) throws -> SigningKeyRing {
        if try SigningKeyFiles.prepareDirectory(directory) {
            logger.warning("Key directory had loose permissions; set to 0700", metadata: ["directory": "\(directory)"])
        }
        var keys: [SigningKey] = []
        for name in try SigningKeyFiles.list(directory).sorted() where name.hasPrefix(filePrefix) && name.hasSuffix(fileSuffix) {
            let path = directory + "/" + name
            let (data, tightened) = try SigningKeyFiles.readKeyFile(path)
            if tightened {
                logger.warning("Key file had loose permissions; set to 0600", metadata: ["file": "\(path)"])
            }
            keys.append(try decode(data, fileName: name, path: path))
        }
        let candidates = keys.filter { $0.retiredAt == nil && $0.privateKey != nil }
        let newest = candidates.max { ($0.createdAt, $0.kid) < ($1.createdAt, $1.kid) }
        let active: SigningKey
        if let newest {
            active = newest
        } else {
            active = try createKey(in: directory, at: now)
            logger.notice("Created signing key", metadata: ["kid": "\(active.kid)"])
        }
        var ring = SigningKeyRing(
            active: active,
            retired: keys.filter { $0.kid != active.kid }
                .map { $0.retired(at: $0.retiredAt ?? active.createdAt) }
                .sorted { ($0.retiredAt ?? now) > ($1.retiredAt ?? now) }
        )
        try prune(&ring, directory: directory, lifetime: lifetime, now: now, logger: logger)
        return ring
    }

    private static func prune(_ ring: inout SigningKeyRing, directory: String, lifetime: Duration, now: Date, logger: Logger) throws {
        var kept: [SigningKey] = []
        for key in ring.retired {
            guard let retiredAt = key.retiredAt, now >= retiredAt.addingTimeInterval(lifetime.seconds) else {
                kept.append(key)
                continue
            }
            try SigningKeyFiles.remove(directory + "/" + fileName(for: key.kid))
            logger.info("Pruned retired signing key", metadata: ["kid": "\(key.kid)"])
        }
        ring.retired = kept
    }

    private static func createKey(in directory: String, at now: Date) throws -> SigningKey {
        let privateKey = Curve25519.Signing.PrivateKey()
        let key = SigningKey(
            kid: thumbprint(of: privateKey.publicKey), publicKey: privateKey.publicKey, privateKey: privateKey, createdAt: now,
            retiredAt: nil)
        try write(key, in: directory)
        return key
    }

    private static func write(_ key: SigningKey, in directory: String) throws {
        let file = SigningKeyFile(
            version: 1, kid: key.kid, alg: "EdDSA", crv: "Ed25519", publicKey: TokenBase64URL.encode(key.publicKey.rawRepresentation),
            privateKey: key.privateKey.map { TokenBase64URL.encode($0.rawRepresentation) }, createdAt: key.createdAt, retiredAt: key.retiredAt)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .secondsSince1970
        try SigningKeyFiles.writeAtomically(encoder.encode(file), to: directory + "/" + fileName(for: key.kid))
    }

    static func decode(_ data: Data, fileName name: String, path: String) throws(SigningKeyStoreError) -> SigningKey {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        guard let file = try? decoder.decode(SigningKeyFile.self, from: data), file.version == 1, file.alg == "EdDSA", file.crv == "Ed25519",
            let publicBytes = TokenBase64URL.decode(file.publicKey),
            let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: publicBytes)
        else { throw .corruptKeyFile(path) }
        var privateKey: Curve25519.Signing.PrivateKey?
        if let encoded = file.privateKey {
            guard let bytes = TokenBase64URL.decode(encoded), let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes),
                key.publicKey.rawRepresentation == publicKey.rawRepresentation
            else { throw .corruptKeyFile(path) }
            privateKey = key
        }
        // The name, the kid and the key must agree, so a copied or hand-edited file cannot claim another key's kid.
        guard file.kid == thumbprint(of: publicKey), name == fileName(for: file.kid) else { throw .corruptKeyFile(path) }
        return SigningKey(kid: file.kid, publicKey: publicKey, privateKey: privateKey, createdAt: file.createdAt, retiredAt: file.retiredAt)
    }

    /// RFC 7638 JWK thumbprint: base64url(SHA-256) of the canonical `{"crv","kty","x"}` JSON.
    static func thumbprint(of publicKey: Curve25519.Signing.PublicKey) -> String {
        let x = TokenBase64URL.encode(publicKey.rawRepresentation)
        let canonical = #"{"crv":"Ed25519","kty":"OKP","x":"\#(x)"}"#
        return TokenBase64URL.encode(Data(SHA256.hash(data: Data(canonical.utf8))))
    }
}

struct SigningKey: Sendable {
    let kid: String
    let publicKey: Curve25519.Signing.PublicKey
    /// Present only while the key may sign.
    let privateKey: Curve25519.Signing.PrivateKey?
    let createdAt: Date
    let retiredAt: Date?

    /// This key, retired at `date`, without its private half.
    func retired(at date: Date) -> SigningKey {
        SigningKey(kid: kid, publicKey: publicKey, privateKey: nil, createdAt: createdAt, retiredAt: date)
    }
}

struct SigningKeyRing: Sendable {
    var active: SigningKey
    /// Most recently retired first.
    var retired: [SigningKey]
}

/// The on-disk form of a key; see `SigningKeyStore`.
struct SigningKeyFile: Codable {
    var version: Int
    var kid: String
    var alg: String
    var crv: String
    var publicKey: String
    var privateKey: String?
    var createdAt: Date
    var retiredAt: Date?

    enum CodingKeys: String, CodingKey {
        case version, kid, alg, crv
        case publicKey = "public_key"
        case privateKey = "private_key"
        case createdAt = "created_at"
        case retiredAt = "retired_at"
    }
}

private struct PublicJWK: Encodable {
    let kty: String
    let crv: String
    let x: String
    let kid: String
    let alg: String
    let use: String
}

private struct PublicJWKSet: Encodable {
    let keys: [PublicJWK]
}
