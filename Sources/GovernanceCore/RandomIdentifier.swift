import Foundation

/// Identifiers for records (`rev_…`, `dlv_…`, `rep_…`): lower-case hex from the system's secure
/// generator (`getrandom`), which costs no file open per identifier as `UUID()` does on Linux.
public enum RandomIdentifier {
    /// An identifier of `hexDigits` random hex digits after the prefix.
    public static func make(prefix: String, hexDigits: Int) -> String {
        var digits = ""
        digits.reserveCapacity(hexDigits + 16)
        appendRandom(hexDigits, to: &digits)
        return prefix + digits
    }

    /// An identifier whose first 12 hex digits are the time in milliseconds and the rest random
    /// (`hexDigits` at least 24): records made together sort together, so inserting a batch of them
    /// touches one page at the end of each index on the identifier instead of one page per record.
    public static func timeOrdered(prefix: String, hexDigits: Int, now: Date = Date()) -> String {
        precondition(hexDigits >= 24, "a time-ordered identifier keeps at least 12 random hex digits")
        let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        var digits = String(milliseconds & 0xFFFF_FFFF_FFFF, radix: 16)
        digits = String(repeating: "0", count: 12 - digits.utf8.count) + digits
        digits.reserveCapacity(hexDigits + 16)
        appendRandom(hexDigits - 12, to: &digits)
        return prefix + digits
    }

    private static func appendRandom(_ count: Int, to digits: inout String) {
        var generator = SystemRandomNumberGenerator()
        let target = digits.utf8.count + count
        while digits.utf8.count < target {
            let word = String(generator.next() as UInt64, radix: 16)
            digits += String(repeating: "0", count: 16 - word.utf8.count) + word
        }
        digits = String(digits.utf8.prefix(target))!
    }
}
