import Foundation
import GovernanceCore

/// Secrets ACGS-2 hands out (API keys, refresh tokens, recovery codes) and how they are kept:
/// random, shown once, stored as SHA-256. They carry 256 bits of entropy, so a fast hash is as safe
/// as a slow one and keeps authentication per request cheap.
public enum Credentials {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    /// `count` characters from a 62-letter alphabet, from the system's secure generator.
    public static func random(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var out = ""
        out.reserveCapacity(count)
        for _ in 0..<count {
            // Rejection sampling keeps every letter equally likely.
            var byte: UInt8
            repeat { byte = generator.next() } while byte >= 248
            out.append(alphabet[Int(byte) % alphabet.count])
        }
        return out
    }

    public static func sha256(_ text: String) -> String {
        Digest.sha256Hex(text)
    }

    /// A new API key: `acgs_<prefix>_<secret>`. The prefix (8 characters) is stored and shown in
    /// listings so a key can be recognised without revealing it.
    public static func newAPIKey() -> (key: String, prefix: String) {
        let prefix = random(8)
        return ("acgs_\(prefix)_\(random(43))", prefix)
    }

    public static func looksLikeAPIKey(_ text: String) -> Bool {
        text.hasPrefix("acgs_") && text.utf8.count == 57
    }

    /// An opaque refresh token.
    public static func newRefreshToken() -> String { "rt_" + random(48) }

    /// One-time recovery codes, shown once at MFA enrolment: `xxxxx-xxxxx`.
    public static func newRecoveryCodes(_ count: Int = 10) -> [String] {
        (0..<count).map { _ in random(5).lowercased() + "-" + random(5).lowercased() }
    }

    /// Identifiers with a readable kind: `usr_…`, `agt_…`, `key_…`.
    public static func newId(_ kind: String) -> String { "\(kind)_" + random(20) }

    /// Compares two strings in time that depends only on their lengths.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
