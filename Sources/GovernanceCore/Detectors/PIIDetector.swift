/// Finds personal data: e-mail addresses, phone numbers, US social security numbers, payment
/// card numbers and IBANs.
///
/// Each kind is a hand-written scanner over UTF-8 bytes. A single pre-pass counts digits and
/// looks for `@`, so text without enough digits never runs the number scanners at all.
///
/// Deliberate limits (conservative, to keep false positives low):
/// - phones: `+`-prefixed international numbers (10–15 digits, grouped by spaces, dashes or
///   parentheses) and North-American numbers with separators; bare digit runs such as
///   `4155550123` are not phones (they are indistinguishable from ids and Unix timestamps);
/// - SSNs: `123-45-6789` anywhere; `123456789` and `123 45 6789` only right after a cue
///   ("ssn", "social security"); invalid areas/groups/serials are rejected;
/// - cards: Luhn-valid, with a known issuer prefix and a length that issuer uses;
/// - IBANs: known country, exact registry length, mod-97 check; print form groups of four.
public enum PIIDetector {
    typealias Ch = DetectorASCII

    public static let kinds: Set<String> = ["email", "phone", "ssn", "credit_card", "iban"]

    /// Scans `text` for personal data. `kinds` limits the scan (nil means all kinds).
    /// Spans are ordered by position and never overlap.
    public static func scan(_ text: String, kinds: Set<String>? = nil) -> [DetectedSpan] {
        ScanBytes.with(text) { scan(bytes: $0, kinds: kinds) }
    }

    static func scan(bytes p: ScanBytes, kinds: Set<String>?) -> [DetectedSpan] {
        // Cheap reject, written branch-free so it vectorises: every numeric kind needs at least
        // nine digits, e-mail needs an '@'.
        var digits = 0
        var ats = 0
        for b in p.buffer {
            digits &+= Ch.isDigit(b) ? 1 : 0
            ats &+= b == Ch.at ? 1 : 0
        }
        if digits < 9 && ats == 0 { return [] }

        let emails = ats > 0 && DetectorSupport.wants(kinds, "email") ? scanEmails(p) : []
        guard digits >= 9 else { return emails }
        let numbers = scanNumbers(p, Wanted(
            iban: DetectorSupport.wants(kinds, "iban"),
            card: digits >= 13 && DetectorSupport.wants(kinds, "credit_card"),
            ssn: DetectorSupport.wants(kinds, "ssn"),
            phone: digits >= 10 && DetectorSupport.wants(kinds, "phone")
        ))
        if emails.isEmpty { return numbers }
        if numbers.isEmpty { return emails }
        // A number inside an address ("415-555-0123@example.com") yields to the address.
        return DetectorSupport.resolveOverlaps(emails + numbers) { $0.kind == "email" ? 1 : 0 }
    }

    struct Wanted {
        var iban: Bool
        var card: Bool
        var ssn: Bool
        var phone: Bool
    }

    /// One pass over number-like tokens. At each candidate the most specific kind is tried first
    /// (IBAN, card, SSN, then phone) and a match consumes its bytes, so the spans come out
    /// ordered and disjoint.
    static func scanNumbers(_ p: ScanBytes, _ want: Wanted) -> [DetectedSpan] {
        var found: [DetectedSpan] = []
        var i = 0
        while i < p.count {
            let b = p[i]
            if Ch.isDigit(b) {
                let run = digitRun(p, i)
                if let span = numberAt(p, i, run: run, want) {
                    found.append(span)
                    i = span.utf8Range.upperBound
                } else {
                    i += run
                }
            } else if want.phone, b == Ch.plus || b == Ch.lparen,
                      let end = b == Ch.plus ? internationalPhone(p, at: i) : northAmericanPhone(p, at: i) {
                found.append(phoneSpan(p, i..<end))
                i = end
            } else {
                i += 1
            }
        }
        return found
    }

    /// The PII span starting with the digit run at `i` (or, for an IBAN, two letters before it).
    static func numberAt(_ p: ScanBytes, _ i: Int, run: Int, _ want: Wanted) -> DetectedSpan? {
        // IBAN: the digit run holds the check digits after a two-letter country code.
        if want.iban, run >= 2, i >= 2, Ch.isAlpha(p[i - 1]), Ch.isAlpha(p[i - 2]), !Ch.isAlnum(p.at(i - 3)),
           let length = ibanLength(Ch.upper(p[i - 2]), Ch.upper(p[i - 1])),
           let end = iban(p, at: i - 2, length: length) {
            let range = (i - 2)..<end
            return DetectedSpan(category: .pii, kind: "iban", utf8Range: range,
                                masked: mask(p, range, keepCountry: true, stars: length - 6, lead: ""))
        }
        guard numberCanStart(p, i) else { return nil }
        if want.card, let (end, count) = card(p, at: i, firstRun: run) {
            return DetectedSpan(category: .pii, kind: "credit_card", utf8Range: i..<end,
                                masked: mask(p, i..<end, stars: count - 4, lead: ""))
        }
        if want.ssn, let end = ssn(p, at: i, firstRun: run) {
            return DetectedSpan(category: .pii, kind: "ssn", utf8Range: i..<end,
                                masked: mask(p, i..<end, stars: 0, lead: "***-**-"))
        }
        if want.phone, p.at(i - 1) != Ch.plus, let end = northAmericanPhone(p, at: i) {
            return phoneSpan(p, i..<end)
        }
        return nil
    }

    /// A masked form: optionally the upper-cased two-letter country code, then `lead`, `stars`
    /// asterisks and the last four letters or digits of `range`. Written in place, one allocation.
    static func mask(_ p: ScanBytes, _ range: Range<Int>, keepCountry: Bool = false, stars: Int,
                     lead: StaticString) -> String {
        var tail = range.upperBound
        var kept = 0
        while tail > range.lowerBound, kept < 4 {
            tail -= 1
            if Ch.isAlnum(p[tail]) { kept += 1 }
        }
        let starCount = max(0, stars)
        let capacity = (keepCountry ? 2 : 0) + lead.utf8CodeUnitCount + starCount + kept
        return String(unsafeUninitializedCapacity: capacity) { out in
            var w = 0
            if keepCountry {
                out[0] = Ch.upper(p[range.lowerBound])
                out[1] = Ch.upper(p[range.lowerBound + 1])
                w = 2
            }
            for k in 0..<lead.utf8CodeUnitCount {
                out[w] = lead.utf8Start[k]
                w += 1
            }
            for _ in 0..<starCount {
                out[w] = Ch.star
                w += 1
            }
            for k in tail..<range.upperBound where Ch.isAlnum(p[k]) {
                out[w] = p[k]
                w += 1
            }
            return w
        }
    }

    // MARK: - Number boundaries

    /// A number may start here only if it is not the tail of a longer token: no letter, digit
    /// or underscore right before it, and no `.`, `-`, `/`, `:` joining it to a preceding digit
    /// (versions `1.2.3`, dates `2024-01-15`, times `12:30`).
    @inline(__always)
    static func numberCanStart(_ p: ScanBytes, _ i: Int) -> Bool {
        guard i > 0 else { return true }
        let b = p[i - 1]
        if Ch.isWord(b) { return false }
        if b == Ch.dot || b == Ch.dash || b == Ch.slash || b == Ch.colon {
            return !Ch.isDigit(p.at(i - 2))
        }
        return true
    }

    /// Mirror image of `numberCanStart` for the byte after a number.
    @inline(__always)
    static func numberCanEnd(_ p: ScanBytes, _ e: Int) -> Bool {
        guard e < p.count else { return true }
        let b = p[e]
        if Ch.isWord(b) { return false }
        if b == Ch.dot || b == Ch.dash || b == Ch.slash || b == Ch.colon {
            return !Ch.isDigit(p.at(e + 1))
        }
        return true
    }

    @inline(__always)
    static func digitRun(_ p: ScanBytes, _ i: Int) -> Int {
        p.run(from: i, while: Ch.isDigit)
    }

    // MARK: - E-mail

    @inline(__always)
    static func isLocalPart(_ b: UInt8) -> Bool {
        Ch.isAlnum(b) || b == Ch.dot || b == Ch.underscore || b == Ch.percent || b == Ch.plus || b == Ch.dash
    }

    static func scanEmails(_ p: ScanBytes) -> [DetectedSpan] {
        var found: [DetectedSpan] = []
        var i = 0
        while i < p.count {
            guard p[i] == Ch.at else { i += 1; continue }
            if let span = email(p, at: i) {
                found.append(span)
                i = span.utf8Range.upperBound
            } else {
                i += 1
            }
        }
        return found
    }

    static func email(_ p: ScanBytes, at atSign: Int) -> DetectedSpan? {
        // Local part: ASCII atext subset plus letters of any script, at most 64 bytes.
        var start = atSign
        while start > 0, atSign - start < 64 {
            let b = p[start - 1]
            if b < 0x80 {
                guard isLocalPart(b) else { break }
                start -= 1
            } else {
                let len = p.unicodeLetterLength(before: start)
                guard len > 0 else { break }
                start -= len
            }
        }
        while start < atSign, p[start] == Ch.dot { start += 1 }
        guard start < atSign, p[atSign - 1] != Ch.dot else { return nil }
        // `scheme://user:pass@host` is URL userinfo (a secret), not an e-mail address.
        if start > 0, p[start - 1] == Ch.colon || p[start - 1] == Ch.slash, isInsideURL(p, start - 1) {
            return nil
        }

        // Domain: dot-separated labels of letters, digits and inner hyphens; the last label
        // (TLD) must be ASCII letters. A trailing sentence dot is not part of the address.
        var j = atSign + 1
        var labels = 0
        var lastLabel = j..<j
        while true {
            let label = domainLabel(p, from: j)
            guard !label.isEmpty, p[label.lowerBound] != Ch.dash, p[label.upperBound - 1] != Ch.dash else { break }
            labels += 1
            lastLabel = label
            j = label.upperBound
            guard p.at(j) == Ch.dot, Ch.isAlnum(p.at(j + 1)) || p.at(j + 1) >= 0x80 else { break }
            j += 1
        }
        guard labels >= 2, lastLabel.count >= 2,
              p.run(from: lastLabel.lowerBound, while: Ch.isAlpha) >= lastLabel.count else { return nil }
        let end = lastLabel.upperBound

        // First character of the local part, "***", then the domain with its '@'.
        let first = p[start] < 0x80 ? 1 : p.unicodeLetterLength(at: start)
        let masked = String(unsafeUninitializedCapacity: first + 3 + end - atSign) { out in
            var w = 0
            for k in start..<(start + first) {
                out[w] = p[k]
                w += 1
            }
            for _ in 0..<3 {
                out[w] = Ch.star
                w += 1
            }
            for k in atSign..<end {
                out[w] = p[k]
                w += 1
            }
            return w
        }
        return DetectedSpan(category: .pii, kind: "email", utf8Range: start..<end, masked: masked)
    }

    static func domainLabel(_ p: ScanBytes, from i: Int) -> Range<Int> {
        var j = i
        while j < p.count, j - i < 63 {
            let b = p[j]
            if Ch.isAlnum(b) || b == Ch.dash {
                j += 1
            } else {
                let len = p.unicodeLetterLength(at: j)
                guard len > 0 else { break }
                j += len
            }
        }
        return i..<j
    }

    /// Whether the byte at `i` belongs to a `scheme://...` token (walks back to whitespace).
    static func isInsideURL(_ p: ScanBytes, _ i: Int) -> Bool {
        var k = i
        while k >= 2, !Ch.isWhitespace(p[k]) {
            if p[k] == Ch.slash, p[k - 1] == Ch.slash, p[k - 2] == Ch.colon { return true }
            k -= 1
        }
        return false
    }

    // MARK: - Phone

    /// `+` country code and subscriber number, 10–15 digits in groups separated by a single
    /// space or dash, optionally with one parenthesised group: `+14155550123`,
    /// `+44 20 7946 0958`, `+1 (415) 555-0123`. Dots are not accepted (IP-like ambiguity).
    static func internationalPhone(_ p: ScanBytes, at i: Int) -> Int? {
        if i > 0, Ch.isAlnum(p[i - 1]) || p[i - 1] == Ch.rparen { return nil }
        guard p.at(i + 1) &- 0x31 < 9 else { return nil }  // first digit 1-9
        var j = i + 1
        var total = 0
        var end = i
        var usedParens = false
        while true {
            var k = j
            var paren = false
            if p.at(k) == Ch.lparen, !usedParens {
                paren = true
                k += 1
            }
            let len = digitRun(p, k)
            guard len > 0, total + len <= 15 else { break }
            k += len
            if paren {
                guard p.at(k) == Ch.rparen else { break }
                k += 1
                usedParens = true
            }
            total += len
            end = k
            // One separator, then the next group must start right away.
            var next = k
            if p.at(next) == Ch.space || p.at(next) == Ch.dash {
                next += 1
            } else if !(paren && Ch.isDigit(p.at(next))) {
                break
            }
            guard Ch.isDigit(p.at(next)) || (p.at(next) == Ch.lparen && !usedParens) else { break }
            j = next
        }
        guard total >= 10, numberCanEnd(p, end) else { return nil }
        return end
    }

    /// NANP numbers with separators: `(415) 555-0123`, `415-555-0123`, `415.555.0123`,
    /// `415 555 0123`, optionally with a leading `1-`. Area code and exchange start with 2-9.
    static func northAmericanPhone(_ p: ScanBytes, at i: Int) -> Int? {
        guard numberCanStart(p, i), p.at(i - 1) != Ch.plus else { return nil }
        var j = i
        if p[j] == Ch.lparen {
            guard digitRun(p, j + 1) == 3, p.at(j + 1) >= 0x32, p.at(j + 4) == Ch.rparen else { return nil }
            j += 5
            if p.at(j) == Ch.space { j += 1 }
            guard digitRun(p, j) == 3, p.at(j) >= 0x32 else { return nil }
            j += 3
            let s = p.at(j)
            if s == Ch.dash || s == Ch.dot || s == Ch.space { j += 1 }
        } else {
            // Optional trunk prefix "1" with the same separator as the rest.
            if digitRun(p, j) == 1, p[j] == 0x31 {
                let s = p.at(j + 1)
                guard s == Ch.dash || s == Ch.dot || s == Ch.space else { return nil }
                guard digitRun(p, j + 2) == 3, p.at(j + 5) == s else { return nil }
                j += 2
            }
            guard digitRun(p, j) == 3, p[j] >= 0x32 else { return nil }
            let sep = p.at(j + 3)
            guard sep == Ch.dash || sep == Ch.dot || sep == Ch.space else { return nil }
            j += 4
            guard digitRun(p, j) == 3, p[j] >= 0x32, p.at(j + 3) == sep else { return nil }
            j += 4
        }
        guard digitRun(p, j) == 4 else { return nil }
        j += 4
        guard numberCanEnd(p, j) else { return nil }
        return j
    }

    static func phoneSpan(_ p: ScanBytes, _ range: Range<Int>) -> DetectedSpan {
        DetectedSpan(category: .pii, kind: "phone", utf8Range: range, masked: mask(p, range, stars: 0, lead: "***-***-"))
    }


    // MARK: - SSN

    static func ssn(_ p: ScanBytes, at i: Int, firstRun: Int) -> Int? {
        guard numberCanStart(p, i) else { return nil }
        let end: Int
        if firstRun == 3 {
            // 123-45-6789 always; 123 45 6789 only with a cue.
            let sep = p.at(i + 3)
            guard sep == Ch.dash || sep == Ch.space, digitRun(p, i + 4) == 2, p.at(i + 6) == sep,
                  digitRun(p, i + 7) == 4 else { return nil }
            end = i + 11
            // Beyond the separator rule, numberCanEnd rejects "123-45-6789-1" and friends.
            guard numberCanEnd(p, end) else { return nil }
            if sep == Ch.space, !hasSSNCue(p, before: i) { return nil }
        } else if firstRun == 9 {
            end = i + 9
            guard numberCanEnd(p, end), hasSSNCue(p, before: i) else { return nil }
        } else {
            return nil
        }
        guard validSSN(p, i..<end) else { return nil }
        return end
    }

    /// SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000.
    static func validSSN(_ p: ScanBytes, _ range: Range<Int>) -> Bool {
        var value = 0
        var count = 0
        for k in range where Ch.isDigit(p[k]) {
            value = value * 10 + Int(p[k] &- 0x30)
            count += 1
        }
        guard count == 9 else { return false }
        let area = value / 1_000_000
        let group = value / 10_000 % 100
        let serial = value % 10_000
        return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
    }

    /// "ssn" or "social security" as words within the 32 bytes before the number.
    static func hasSSNCue(_ p: ScanBytes, before i: Int) -> Bool {
        var k = max(0, i - 32)
        while k < i {
            if !Ch.isAlpha(p.at(k - 1)) {
                if p.hasCI("ssn", at: k), !Ch.isAlpha(p.at(k + 3)) { return true }
                if p.hasCI("social", at: k), k + 6 < i {
                    let next = p[k + 6]
                    if (next == Ch.space || next == Ch.dash), p.hasCI("security", at: k + 7) { return true }
                }
            }
            k += 1
        }
        return false
    }

    // MARK: - Payment cards

    /// A card number starting at `i`: 13–19 contiguous digits, or a first group of four
    /// followed by groups of 3–6 digits joined by one consistent single space or dash
    /// (`4111 1111 1111 1111`, Amex `3782 822463 10005`). The longest valid prefix of groups
    /// wins, so trailing numbers such as an expiry date do not hide the card.
    static func card(_ p: ScanBytes, at i: Int, firstRun: Int) -> (end: Int, digits: Int)? {
        if firstRun >= 13 {
            guard firstRun <= 19, numberCanEnd(p, i + firstRun), validCard(p, i..<(i + firstRun), firstRun)
            else { return nil }
            return (i + firstRun, firstRun)
        }
        guard firstRun == 4 else { return nil }
        let sep = p.at(i + 4)
        guard sep == Ch.space || sep == Ch.dash else { return nil }
        var j = i + 4
        var count = 4
        var best: (end: Int, digits: Int)?
        while p.at(j) == sep {
            let len = digitRun(p, j + 1)
            guard len >= 3, len <= 6, count + len <= 19 else { break }
            j += 1 + len
            count += len
            if count >= 13, numberCanEnd(p, j), validCard(p, i..<j, count) {
                best = (j, count)
            }
        }
        return best
    }

    static func validCard(_ p: ScanBytes, _ range: Range<Int>, _ count: Int) -> Bool {
        var prefix = 0
        var taken = 0
        for k in range where taken < 6 && Ch.isDigit(p[k]) {
            prefix = prefix * 10 + Int(p[k] &- 0x30)
            taken += 1
        }
        return issuerAccepts(prefix6: prefix, length: count) && luhn(p, range)
    }

    static func luhn(_ p: ScanBytes, _ range: Range<Int>) -> Bool {
        var sum = 0
        var double = false
        var k = range.upperBound - 1
        while k >= range.lowerBound {
            let b = p[k]
            if Ch.isDigit(b) {
                var d = Int(b &- 0x30)
                if double {
                    d *= 2
                    if d > 9 { d -= 9 }
                }
                sum += d
                double.toggle()
            }
            k -= 1
        }
        return sum % 10 == 0
    }

    /// Issuer identification ranges and the lengths each network issues.
    static func issuerAccepts(prefix6: Int, length: Int) -> Bool {
        let p1 = prefix6 / 100_000
        let p2 = prefix6 / 10_000
        let p3 = prefix6 / 1_000
        let p4 = prefix6 / 100
        switch length {
        case 13...19:
            break
        default:
            return false
        }
        // Visa
        if p1 == 4 { return length == 13 || length == 16 || length == 19 }
        // Mastercard
        if (51...55).contains(p2) || (2221...2720).contains(p4) { return length == 16 }
        // Mir
        if (2200...2204).contains(p4) { return length >= 16 }
        // American Express
        if p2 == 34 || p2 == 37 { return length == 15 }
        // Diners Club
        if (300...305).contains(p3) || p2 == 36 || p2 == 38 || p2 == 39 { return length >= 14 }
        // JCB
        if (3528...3589).contains(p4) { return length >= 16 }
        // Discover, UnionPay
        if p4 == 6011 || p2 == 65 || (644...649).contains(p3) || p2 == 62 { return length >= 16 }
        // Maestro
        switch p4 {
        case 5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763: return true
        default: return false
        }
    }

    // MARK: - IBAN

    /// Reads `length` alphanumerics from `i` (single spaces allowed between groups of four) and
    /// checks the ISO 7064 mod-97 checksum. Returns the end offset.
    static func iban(_ p: ScanBytes, at i: Int, length: Int) -> Int? {
        var j = i
        var n = 0
        while n < length {
            let b = p.at(j)
            if Ch.isAlnum(b) {
                n += 1
                j += 1
            } else if b == Ch.space, n % 4 == 0, n > 0, Ch.isAlnum(p.at(j + 1)) {
                j += 1
            } else {
                return nil
            }
        }
        guard !Ch.isAlnum(p.at(j)) else { return nil }
        // Rearranged number: BBAN, then country code and check digits; letters count 10...35.
        // The remainder is reduced only when it grows large, which saves most divisions.
        var value = 0
        func feed(_ b: UInt8) {
            if Ch.isDigit(b) {
                value = value * 10 + Int(b &- 0x30)
            } else if Ch.isAlpha(b) {
                value = value * 100 + Int(Ch.upper(b) &- 0x41) + 10
            }
            if value >= 1_000_000_000_000_000 { value %= 97 }
        }
        for k in (i + 4)..<j { feed(p[k]) }
        for k in i..<(i + 4) { feed(p[k]) }
        return value % 97 == 1 ? j : nil
    }

    /// IBAN length for an upper-case country code, or nil for a country without IBANs.
    @inline(__always)
    static func ibanLength(_ a: UInt8, _ b: UInt8) -> Int? {
        guard Ch.isUpper(a), Ch.isUpper(b) else { return nil }
        let length = ibanLengths[Int(a &- 0x41) * 26 + Int(b &- 0x41)]
        return length == 0 ? nil : Int(length)
    }

    /// IBAN lengths from the SWIFT IBAN registry, indexed by country code (AA...ZZ).
    static let ibanLengths: [UInt8] = {
        let registry: [(StaticString, UInt8)] = [
            ("AD", 24), ("AE", 23), ("AL", 28), ("AT", 20), ("AZ", 28), ("BA", 20), ("BE", 16),
            ("BG", 22), ("BH", 22), ("BI", 27), ("BR", 29), ("BY", 28), ("CH", 21), ("CR", 22),
            ("CY", 28), ("CZ", 24), ("DE", 22), ("DJ", 27), ("DK", 18), ("DO", 28), ("EE", 20),
            ("EG", 29), ("ES", 24), ("FI", 18), ("FK", 18), ("FO", 18), ("FR", 27), ("GB", 22),
            ("GE", 22), ("GI", 23), ("GL", 18), ("GR", 27), ("GT", 28), ("HN", 28), ("HR", 21),
            ("HU", 28), ("IE", 22), ("IL", 23), ("IQ", 23), ("IS", 26), ("IT", 27), ("JO", 30),
            ("KW", 30), ("KZ", 20), ("LB", 28), ("LC", 32), ("LI", 21), ("LT", 20), ("LU", 20),
            ("LV", 21), ("LY", 25), ("MC", 27), ("MD", 24), ("ME", 22), ("MK", 19), ("MN", 20),
            ("MR", 27), ("MT", 31), ("MU", 30), ("NI", 28), ("NL", 18), ("NO", 15), ("OM", 23),
            ("PK", 24), ("PL", 28), ("PS", 29), ("PT", 25), ("QA", 29), ("RO", 24), ("RS", 22),
            ("RU", 33), ("SA", 24), ("SC", 31), ("SD", 18), ("SE", 24), ("SI", 19), ("SK", 24),
            ("SM", 27), ("SO", 23), ("ST", 25), ("SV", 28), ("TL", 23), ("TN", 24), ("TR", 26),
            ("UA", 29), ("VA", 22), ("VG", 24), ("XK", 20), ("YE", 30),
        ]
        var table = [UInt8](repeating: 0, count: 26 * 26)
        for (code, length) in registry {
            table[Int(code.utf8Start[0] &- 0x41) * 26 + Int(code.utf8Start[1] &- 0x41)] = length
        }
        return table
    }()
}
