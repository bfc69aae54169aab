/// Random identifiers for records (`rev_…`, `dlv_…`): lower-case hex from the system's secure
/// generator (`getrandom`), which costs no file open per identifier as `UUID()` does on Linux.
public enum RandomIdentifier {
    public static func make(prefix: String, hexDigits: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var digits = ""
        digits.reserveCapacity(hexDigits + 16)
        while digits.utf8.count < hexDigits {
            let word = String(generator.next() as UInt64, radix: 16)
            digits += String(repeating: "0", count: 16 - word.utf8.count) + word
        }
        return prefix + digits.prefix(hexDigits)
    }
}
