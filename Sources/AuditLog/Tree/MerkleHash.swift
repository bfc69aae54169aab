import Crypto

/// The hash functions of an RFC 6962 / RFC 9162 Merkle tree with SHA-256.
///
/// Leaves and interior nodes are hashed with different one-byte prefixes (domain
/// separation), so that no leaf can be passed off as an interior node (second
/// preimage attack on the tree structure).
public enum MerkleHash {
    /// The length in bytes of every hash in the tree.
    public static let size = 32

    /// The hash of the empty tree: SHA-256 of the empty string (RFC 9162 section 2.1.1).
    public static let empty: [UInt8] = Array(SHA256.hash(data: [UInt8]()))

    /// The leaf hash `SHA-256(0x00 || data)`.
    public static func leaf(_ data: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        prefix(&hasher, 0x00)
        hasher.update(data: data)
        return bytes(of: hasher.finalize())
    }

    /// The leaf hash of the UTF-8 of `text` (an entry's canonical JSON), read in place.
    public static func leaf(utf8 text: String) -> [UInt8] {
        var hasher = SHA256()
        prefix(&hasher, 0x00)
        var text = text
        text.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        return bytes(of: hasher.finalize())
    }

    /// The interior node hash `SHA-256(0x01 || left || right)`.
    public static func node(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        prefix(&hasher, 0x01)
        hasher.update(data: left)
        hasher.update(data: right)
        return bytes(of: hasher.finalize())
    }

    // Every audit entry hashes a leaf and about two nodes: neither the prefix nor the result goes
    // through an intermediate array.
    private static func prefix(_ hasher: inout SHA256, _ byte: UInt8) {
        withUnsafeBytes(of: byte) { hasher.update(bufferPointer: $0) }
    }

    private static func bytes(of digest: SHA256Digest) -> [UInt8] {
        digest.withUnsafeBytes { [UInt8]($0) }
    }

    /// Lower-case hexadecimal text of `bytes`.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The bytes written as hexadecimal text (either case), or nil if `text` is not
    /// an even number of hex digits.
    public static func bytes(hex text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
