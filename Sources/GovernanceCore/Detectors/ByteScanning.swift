// Byte-level helpers shared by the detectors.
//
// Every pattern the detectors look for is ASCII, so they scan UTF-8 code units directly and
// treat any non-ASCII byte as a separator (except inside e-mail addresses). That keeps the hot
// path free of Unicode segmentation, regular expressions and Foundation, and lets a scan
// allocate nothing unless it finds something.
//
// Names are prefixed or nested (`ScanBytes`, `DetectorASCII`, `DetectorSupport`) because the
// rest of GovernanceCore shares this module namespace.

/// A borrowed view of a string's UTF-8 bytes with the small matching primitives the scanners
/// need. Only valid inside `ScanBytes.with(_:_:)`.
struct ScanBytes {
    let buffer: UnsafeBufferPointer<UInt8>

    /// Runs `body` over the UTF-8 bytes of `text`. Native strings are contiguous, so the copy
    /// in the fallback only happens for exotic (bridged or lazily-decoded) strings.
    @inline(__always)
    static func with<R>(_ text: String, _ body: (ScanBytes) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable({ body(ScanBytes(buffer: $0)) }) {
            return result
        }
        let copy = Array(text.utf8)
        return copy.withUnsafeBufferPointer { body(ScanBytes(buffer: $0)) }
    }

    @inline(__always) var count: Int { buffer.count }
    @inline(__always) subscript(i: Int) -> UInt8 { buffer[i] }
}

// MARK: - ASCII classes

enum DetectorASCII {
    static let tab: UInt8 = 0x09
    static let newline: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let bang: UInt8 = 0x21
    static let quote: UInt8 = 0x22
    static let hash: UInt8 = 0x23
    static let dollar: UInt8 = 0x24
    static let percent: UInt8 = 0x25
    static let amp: UInt8 = 0x26
    static let apostrophe: UInt8 = 0x27
    static let lparen: UInt8 = 0x28
    static let rparen: UInt8 = 0x29
    static let star: UInt8 = 0x2A
    static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let dash: UInt8 = 0x2D
    static let dot: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let lt: UInt8 = 0x3C
    static let equals: UInt8 = 0x3D
    static let gt: UInt8 = 0x3E
    static let question: UInt8 = 0x3F
    static let at: UInt8 = 0x40
    static let lbracket: UInt8 = 0x5B
    static let rbracket: UInt8 = 0x5D
    static let underscore: UInt8 = 0x5F
    static let backtick: UInt8 = 0x60
    static let lbrace: UInt8 = 0x7B
    static let pipe: UInt8 = 0x7C
    static let rbrace: UInt8 = 0x7D

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
    @inline(__always) static func isUpper(_ b: UInt8) -> Bool { b &- 0x41 < 26 }
    @inline(__always) static func isLower(_ b: UInt8) -> Bool { b &- 0x61 < 26 }
    @inline(__always) static func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 26 }
    @inline(__always) static func isAlnum(_ b: UInt8) -> Bool { isDigit(b) || isAlpha(b) }
    /// Identifier byte: letter, digit or underscore.
    @inline(__always) static func isWord(_ b: UInt8) -> Bool { isAlnum(b) || b == underscore }
    /// Base64url alphabet, used by JWTs and several token formats.
    @inline(__always) static func isBase64URL(_ b: UInt8) -> Bool { isAlnum(b) || b == dash || b == underscore }
    @inline(__always) static func isBlank(_ b: UInt8) -> Bool { b == space || b == tab }
    @inline(__always) static func isWhitespace(_ b: UInt8) -> Bool {
        b == space || b == tab || b == newline || b == cr
    }
    @inline(__always) static func lower(_ b: UInt8) -> UInt8 { isUpper(b) ? b | 0x20 : b }
    @inline(__always) static func upper(_ b: UInt8) -> UInt8 { isLower(b) ? b & 0xDF : b }
}

// MARK: - Literal matching

extension ScanBytes {
    /// Whether the bytes at `i` are exactly `literal`.
    @inline(__always)
    func has(_ literal: StaticString, at i: Int) -> Bool {
        let len = literal.utf8CodeUnitCount
        guard i >= 0, i + len <= count else { return false }
        let lit = literal.utf8Start
        for k in 0..<len where self[i + k] != lit[k] { return false }
        return true
    }

    /// Whether the bytes at `i` equal `literal` ignoring ASCII case; `literal` must be lowercase.
    @inline(__always)
    func hasCI(_ literal: StaticString, at i: Int) -> Bool {
        let len = literal.utf8CodeUnitCount
        guard i >= 0, i + len <= count else { return false }
        let lit = literal.utf8Start
        for k in 0..<len where DetectorASCII.lower(self[i + k]) != lit[k] { return false }
        return true
    }

    /// Whether the range holds exactly `literal`, ignoring ASCII case; `literal` must be lowercase.
    @inline(__always)
    func equalsCI(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        range.count == literal.utf8CodeUnitCount && hasCI(literal, at: range.lowerBound)
    }

    /// Whether the range ends with `literal`, ignoring ASCII case; `literal` must be lowercase.
    @inline(__always)
    func endsWithCI(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        let len = literal.utf8CodeUnitCount
        return range.count >= len && hasCI(literal, at: range.upperBound - len)
    }

    /// Length of the run of bytes satisfying `pred` starting at `i`, capped at `limit`.
    @inline(__always)
    func run(from i: Int, limit: Int = .max, while pred: (UInt8) -> Bool) -> Int {
        var j = i
        while j < count, j - i < limit, pred(self[j]) { j += 1 }
        return j - i
    }

    /// Byte at `i`, or 0 outside the buffer: lets boundary checks skip explicit bounds tests.
    @inline(__always)
    func at(_ i: Int) -> UInt8 { i >= 0 && i < count ? self[i] : 0 }

    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: buffer[range]), as: UTF8.self)
    }
}

// MARK: - Non-ASCII letters

extension ScanBytes {
    /// Byte length of the scalar at `i` if it is a non-ASCII letter or digit (any script),
    /// else 0. Lets e-mail addresses such as `jürgen@müller.de` be read whole.
    func unicodeLetterLength(at i: Int) -> Int {
        let lead = at(i)
        let length: Int
        var value: UInt32
        switch lead {
        case 0xC2...0xDF: length = 2; value = UInt32(lead & 0x1F)
        case 0xE0...0xEF: length = 3; value = UInt32(lead & 0x0F)
        case 0xF0...0xF4: length = 4; value = UInt32(lead & 0x07)
        default: return 0
        }
        guard i + length <= count else { return 0 }
        for k in 1..<length {
            let b = self[i + k]
            guard b & 0xC0 == 0x80 else { return 0 }
            value = value << 6 | UInt32(b & 0x3F)
        }
        guard let scalar = Unicode.Scalar(value),
              scalar.properties.isAlphabetic || scalar.properties.numericType != nil else { return 0 }
        return length
    }

    /// Byte length of the non-ASCII letter or digit ending just before `i`, else 0.
    func unicodeLetterLength(before i: Int) -> Int {
        var k = i - 1
        while k >= 0, i - k < 4, self[k] & 0xC0 == 0x80 { k -= 1 }
        guard k >= 0 else { return 0 }
        let length = unicodeLetterLength(at: k)
        return length == i - k ? length : 0
    }
}

// MARK: - Span helpers

enum DetectorSupport {
    /// Makes spans non-overlapping: among overlapping candidates the higher `rank` wins, then
    /// the longer one, then the earlier one. The result is sorted by position.
    static func resolveOverlaps(_ spans: [DetectedSpan], rank: (DetectedSpan) -> Int) -> [DetectedSpan] {
        guard spans.count > 1 else { return spans }
        // The common case is already sorted and disjoint: return it untouched.
        var disjoint = true
        for k in 1..<spans.count where spans[k].utf8Range.lowerBound < spans[k - 1].utf8Range.upperBound {
            disjoint = false
            break
        }
        if disjoint { return spans }

        let ordered = spans.sorted { a, b in
            let ra = rank(a), rb = rank(b)
            if ra != rb { return ra > rb }
            if a.utf8Range.count != b.utf8Range.count { return a.utf8Range.count > b.utf8Range.count }
            return a.utf8Range.lowerBound < b.utf8Range.lowerBound
        }
        var kept: [DetectedSpan] = []
        kept.reserveCapacity(ordered.count)
        for span in ordered where !kept.contains(where: { $0.utf8Range.overlaps(span.utf8Range) }) {
            kept.append(span)
        }
        kept.sort { $0.utf8Range.lowerBound < $1.utf8Range.lowerBound }
        return kept
    }

    /// Whether the caller asked for `kind`; `nil` means every kind.
    @inline(__always)
    static func wants(_ kinds: Set<String>?, _ kind: String) -> Bool {
        kinds?.contains(kind) ?? true
    }
}
