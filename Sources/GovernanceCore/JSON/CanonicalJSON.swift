import Crypto

/// Canonical JSON in the manner of RFC 8785 (JCS): object keys sorted by UTF-16 code units, no
/// insignificant white space, integral numbers without a fraction, minimal string escaping.
/// Two documents with the same meaning have the same canonical bytes, hence the same hash.
public enum CanonicalJSON {
    public static func encode(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        write(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public static func sha256Hex(_ value: JSONValue) -> String {
        Digest.sha256Hex(encode(value))
    }

    // Written as bytes: documents are canonicalised on every governed request (the audit entry, the
    // stored review), and appending bytes is several times cheaper than appending to a String.
    static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n):
            var text = ""
            writeNumber(n, into: &text)
            out.append(contentsOf: text.utf8)
        case .string(let s): writeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            var first = true
            fields.forEachSorted(by: precedesInUTF16) { key, value in
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Whether `a` sorts before `b` by UTF-16 code units (RFC 8785), read from their UTF-8 without
    /// transcoding: UTF-8 bytes order strings by scalar, which is UTF-16 order except that
    /// scalars above U+FFFF (surrogates in UTF-16, D800–DFFF) sort before U+E000–U+FFFF.
    static func precedesInUTF16(_ a: String, _ b: String) -> Bool {
        let compared = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y -> Bool in
                let common = min(x.count, y.count)
                var k = 0
                while k < common && x[k] == y[k] { k += 1 }
                guard k < common else { return x.count < y.count }
                return precedes(x[k], y[k])
            }
        }
        if let compared = compared ?? nil { return compared }
        var i = a.utf8.makeIterator()
        var j = b.utf8.makeIterator()
        while true {
            guard let x = i.next() else { return j.next() != nil }
            guard let y = j.next() else { return false }
            if x == y { continue }
            return precedes(x, y)
        }
    }

    /// The order of the first differing bytes of two strings' UTF-8: both are lead bytes, or both
    /// continuation bytes of the same kind of character.
    private static func precedes(_ x: UInt8, _ y: UInt8) -> Bool {
        if x >= 0xF0 && (y == 0xEE || y == 0xEF) { return true }
        if y >= 0xF0 && (x == 0xEE || x == 0xEF) { return false }
        return x < y
    }

    static func writeNumber(_ n: Double, into out: inout String) {
        if !n.isFinite {
            out += "null"  // JSON has no NaN or infinity
        } else if n == n.rounded(), abs(n) < 9_007_199_254_740_992 {
            out += String(Int64(n))
        } else {
            out += "\(n)"
        }
    }

    static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        if !appendUnescaped(s, into: &out) {
            for byte in s.utf8 {
                guard needsEscape(byte) else {
                    out.append(byte)
                    continue
                }
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
                case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
                case UInt8(ascii: "\n"): out.append(contentsOf: "\\n".utf8)
                case UInt8(ascii: "\r"): out.append(contentsOf: "\\r".utf8)
                case UInt8(ascii: "\t"): out.append(contentsOf: "\\t".utf8)
                case 0x08: out.append(contentsOf: "\\b".utf8)
                case 0x0C: out.append(contentsOf: "\\f".utf8)
                default:
                    out.append(contentsOf: "\\u00".utf8)
                    out.append(hexDigits[Int(byte >> 4)])
                    out.append(hexDigits[Int(byte & 0x0F)])
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Appends `s` as it is if it needs no escape (most strings: ids, hashes, plain text), checked
    /// and copied straight from its storage; false, with nothing appended, otherwise.
    private static func appendUnescaped(_ s: String, into out: inout [UInt8]) -> Bool {
        s.utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes where needsEscape(byte) { return false }
            out.append(contentsOf: bytes)
            return true
        } ?? false
    }

    public static func writeString(_ s: String, into out: inout String) {
        let plain = s.utf8.withContiguousStorageIfAvailable { bytes in !bytes.contains(where: needsEscape) } ?? false
        guard !plain else {
            out += "\""
            out += s
            out += "\""
            return
        }
        var escaped: [UInt8] = []
        writeString(s, into: &escaped)
        out += String(decoding: escaped, as: UTF8.self)
    }
}

public enum Digest {
    public static func sha256Hex(_ text: String) -> String {
        hex(SHA256.hash(data: Array(text.utf8)))
    }

    public static func sha256Hex(bytes: [UInt8]) -> String {
        hex(SHA256.hash(data: bytes))
    }

    /// Lower-case hex of the digest, written as bytes (it is on every request's path: cache keys).
    public static func hex(_ digest: SHA256.Digest) -> String {
        digest.withUnsafeBytes { bytes in
            String(unsafeUninitializedCapacity: bytes.count * 2) { out in
                for (i, byte) in bytes.enumerated() {
                    out[2 * i] = hexDigits[Int(byte >> 4)]
                    out[2 * i + 1] = hexDigits[Int(byte & 0x0F)]
                }
                return bytes.count * 2
            }
        }
    }

}

/// Lower-case hex digits as bytes, for `Digest.hex` and `\u00XX` escapes.
private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
