import Foundation

/// Identifiers for records (`rev_…`, `dlv_…`, `rep_…`): lower-case hex from the system's secure
/// generator (`getrandom`), which costs no file open per identifier as `UUID()` does on Linux.
/// Written in place: the fast lane makes one per request.
public enum RandomIdentifier {
    /// An identifier of `hexDigits` random hex digits after the prefix.
    public static func make(prefix: String, hexDigits: Int) -> String {
        write(prefix: prefix, hexDigits: hexDigits, time: nil)
    }

    /// An identifier whose first 12 hex digits are the time in milliseconds and the rest random
    /// (`hexDigits` at least 24): records made together sort together, so inserting a batch of them
    /// touches one page at the end of each index on the identifier instead of one page per record.
    public static func timeOrdered(prefix: String, hexDigits: Int, now: Date = Date()) -> String {
        precondition(hexDigits >= 24, "a time-ordered identifier keeps at least 12 random hex digits")
        return write(prefix: prefix, hexDigits: hexDigits, time: UInt64(max(0, now.timeIntervalSince1970 * 1000)) & 0xFFFF_FFFF_FFFF)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The prefix, then the time's 12 hex digits if there is one, then random hex digits up to `hexDigits`.
    private static func write(prefix: String, hexDigits count: Int, time: UInt64?) -> String {
        let prefixBytes = Array(prefix.utf8)
        return String(unsafeUninitializedCapacity: prefixBytes.count + count) { out in
            for (i, byte) in prefixBytes.enumerated() { out[i] = byte }
            var position = prefixBytes.count
            func put(_ value: UInt64, digits: Int) {
                for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
                    out[position] = hexDigits[Int((value >> UInt64(shift)) & 0xF)]
                    position += 1
                }
            }
            var remaining = count
            if let time {
                put(time, digits: 12)
                remaining -= 12
            }
            var generator = SystemRandomNumberGenerator()
            while remaining > 0 {
                let digits = min(16, remaining)
                put(generator.next() as UInt64, digits: digits)
                remaining -= digits
            }
            return position
        }
    }
}
