/// Every keyword of a constitution, numbered. A text is tokenised once per evaluation into the ids of
/// the keywords it contains, so that each keyword test is a bit test instead of a string search, and
/// the cost of a text does not grow with the number of keyword rules.
struct Vocabulary: Sendable {
    struct Entry: Sendable {
        var bytes: [UInt8]
        var id: Int32
        var isPrefix: Bool
    }

    private(set) var entries: [Entry] = []
    /// Open-addressing table from the FNV-1a hash of a word (or of a prefix written `delet*`) to the
    /// first entry with that hash; the hash is already well mixed, so probing needs no rehash.
    private var slots: [Int32] = Array(repeating: -1, count: 16)
    private var hashes: [UInt64] = Array(repeating: 0, count: 16)
    private(set) var prefixLengths: [Int] = []
    private(set) var count: Int32 = 0

    /// Adds a keyword (a single word, lowercased; a trailing `*` makes it a prefix) and returns its id.
    mutating func id(for keyword: String) -> Int32 {
        var bytes = Array(keyword.lowercased().utf8)
        let isPrefix = bytes.last == UInt8(ascii: "*")
        if isPrefix { bytes.removeLast() }
        let hash = Self.hash(bytes, prefix: isPrefix)
        if let existing = lookup(hash, bytes[...]) { return existing.id }
        let entry = Entry(bytes: bytes, id: count, isPrefix: isPrefix)
        count += 1
        entries.append(entry)
        if isPrefix && !prefixLengths.contains(bytes.count) {
            prefixLengths.append(bytes.count)
            prefixLengths.sort()
        }
        if entries.count * 2 > slots.count { rebuild(capacity: slots.count * 2) } else { insert(hash, Int32(entries.count - 1)) }
        return entry.id
    }

    private mutating func rebuild(capacity: Int) {
        slots = Array(repeating: -1, count: capacity)
        hashes = Array(repeating: 0, count: capacity)
        for (i, e) in entries.enumerated() { insert(Self.hash(e.bytes, prefix: e.isPrefix), Int32(i)) }
    }

    private mutating func insert(_ hash: UInt64, _ index: Int32) {
        var i = Int(truncatingIfNeeded: hash) & (slots.count - 1)
        while slots[i] >= 0 { i = (i + 1) & (slots.count - 1) }
        slots[i] = index
        hashes[i] = hash
    }

    private func lookup(_ hash: UInt64, _ bytes: ArraySlice<UInt8>) -> Entry? {
        var i = Int(truncatingIfNeeded: hash) & (slots.count - 1)
        while slots[i] >= 0 {
            if hashes[i] == hash {
                let e = entries[Int(slots[i])]
                if e.bytes.elementsEqual(bytes) { return e }
            }
            i = (i + 1) & (slots.count - 1)
        }
        return nil
    }

    /// The id of a word or prefix keyword with this hash and these bytes, if any.
    @inline(__always) func lookup(_ hash: UInt64, _ bytes: ArraySlice<UInt8>, prefix: Bool) -> Int32? {
        var i = Int(truncatingIfNeeded: hash) & (slots.count - 1)
        while true {
            let slot = slots[i]
            if slot < 0 { return nil }
            if hashes[i] == hash {
                let matched = entries.withUnsafeBufferPointer { e -> Int32? in
                    let entry = e[Int(slot)]
                    return entry.isPrefix == prefix && entry.bytes.elementsEqual(bytes) ? entry.id : nil
                }
                if let matched { return matched }
            }
            i = (i + 1) & (slots.count - 1)
        }
    }

    static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    static let prime: UInt64 = 0x100_0000_01b3

    /// FNV-1a; prefixes are hashed with a final marker byte so `del*` and `del` stay apart.
    static func hash(_ bytes: [UInt8], prefix: Bool) -> UInt64 {
        var h = offsetBasis
        for b in bytes { h = (h ^ UInt64(b)) &* prime }
        return prefix ? finishPrefix(h) : h
    }

    @inline(__always) static func finishPrefix(_ h: UInt64) -> UInt64 { (h ^ 0x2A) &* prime }

    /// Splits text into words (runs of letters and digits, case folded, any script) and records
    /// which keywords occur where.
    func scan(_ text: String) -> WordScan {
        let result = WordScan(wordCount: Int(count), text: text)
        guard count > 0 else { return result }
        if text.utf8.contains(where: { $0 >= 0x80 }) {
            scanUnicode(text, into: result)
        } else {
            var copy = text
            copy.withUTF8 { bytes in
                var tokenizer = Tokenizer(vocabulary: self, result: result)
                for offset in 0..<bytes.count { tokenizer.ascii(bytes[offset], at: offset) }
                tokenizer.finishWord(end: bytes.count)
            }
        }
        return result
    }

    /// Other scripts: letters and digits of any script make words; curly quotes, dashes and other
    /// punctuation separate them, as ASCII punctuation does.
    private func scanUnicode(_ text: String, into result: WordScan) {
        var tokenizer = Tokenizer(vocabulary: self, result: result)
        var offset = 0
        for scalar in text.unicodeScalars {
            let width = UTF8.width(scalar)
            if scalar.isASCII {
                tokenizer.ascii(UInt8(scalar.value), at: offset)
            } else if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                for b in String(scalar).lowercased().utf8 { tokenizer.append(b, at: offset, end: offset + width) }
            } else {
                tokenizer.finishWord(end: offset)
            }
            offset += width
        }
        tokenizer.finishWord(end: offset)
    }

    /// The word being read, its running hash, and where prefix keywords are looked up as it grows.
    private struct Tokenizer {
        let vocabulary: Vocabulary
        let result: WordScan
        var word: [UInt8] = []
        var hash = Vocabulary.offsetBasis
        var start = 0
        var position: Int32 = 0
        var nextPrefix = 0

        init(vocabulary: Vocabulary, result: WordScan) {
            self.vocabulary = vocabulary
            self.result = result
            word.reserveCapacity(32)
        }

        /// An ASCII byte: letters (case folded) and digits extend the word, anything else ends it.
        @inline(__always) mutating func ascii(_ b: UInt8, at offset: Int) {
            if (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7A) {
                append(b, at: offset, end: offset + 1)
            } else if b >= 0x41 && b <= 0x5A {
                append(b + 0x20, at: offset, end: offset + 1)
            } else {
                finishWord(end: offset)
            }
        }

        @inline(__always) mutating func append(_ byte: UInt8, at offset: Int, end: Int) {
            if word.isEmpty { start = offset }
            word.append(byte)
            hash = (hash ^ UInt64(byte)) &* Vocabulary.prime
            let lengths = vocabulary.prefixLengths
            while nextPrefix < lengths.count && lengths[nextPrefix] < word.count { nextPrefix += 1 }
            if nextPrefix < lengths.count && lengths[nextPrefix] == word.count {
                if let id = vocabulary.lookup(Vocabulary.finishPrefix(hash), word[...], prefix: true) {
                    result.record(id: id, position: position, utf8Range: start..<end)
                }
                nextPrefix += 1
            }
        }

        @inline(__always) mutating func finishWord(end: Int) {
            guard !word.isEmpty else { return }
            if let id = vocabulary.lookup(hash, word[...], prefix: false) {
                result.record(id: id, position: position, utf8Range: start..<end)
            }
            position += 1
            word.removeAll(keepingCapacity: true)
            hash = Vocabulary.offsetBasis
            nextPrefix = 0
        }
    }
}

/// Which keywords a text contains, and where. A class: it is built once per string and then only
/// read, by every rule that looks at that string.
final class WordScan {
    struct Occurrence {
        var id: Int32
        var position: Int32
        var utf8Range: Range<Int>
    }

    // Written while one evaluation scans the text, then only read: no run-time exclusivity checks.
    @exclusivity(unchecked) private(set) var present: [UInt64]
    @exclusivity(unchecked) private(set) var occurrences: [Occurrence] = []
    let text: String

    init(wordCount: Int, text: String) {
        present = Array(repeating: 0, count: (wordCount + 63) / 64)
        self.text = text
    }

    func record(id: Int32, position: Int32, utf8Range: Range<Int>) {
        present[Int(id) >> 6] |= 1 << UInt64(id & 63)
        occurrences.append(Occurrence(id: id, position: position, utf8Range: utf8Range))
    }

    @inline(__always) func contains(_ id: Int32) -> Bool {
        present[Int(id) >> 6] & (1 << UInt64(id & 63)) != 0
    }

    func slice(_ range: Range<Int>) -> String {
        EvaluationScope.slice(text, range)
    }

    /// The first occurrence of a phrase (consecutive words), as a byte range.
    func find(phrase: [Int32]) -> Range<Int>? {
        for id in phrase where !contains(id) { return nil }
        guard let first = phrase.first else { return nil }
        if phrase.count == 1 { return occurrences.first(where: { $0.id == first })?.utf8Range }
        for start in occurrences where start.id == first {
            var end = start.utf8Range
            var matched = true
            for (k, id) in phrase.enumerated().dropFirst() {
                guard let next = occurrences.first(where: { $0.id == id && $0.position == start.position + Int32(k) }) else {
                    matched = false
                    break
                }
                end = next.utf8Range
            }
            if matched { return start.utf8Range.lowerBound..<end.upperBound }
        }
        return nil
    }
}

/// A set of keyword ids as the non-zero words of a bit set: testing it against the words of a text
/// takes a few AND operations, whatever the number of keywords.
struct WordMask: Sendable {
    let words: [(index: Int, bits: UInt64)]

    init(_ ids: [Int32]) {
        var byIndex: [Int: UInt64] = [:]
        for id in ids { byIndex[Int(id) >> 6, default: 0] |= 1 << UInt64(id & 63) }
        words = byIndex.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    @inline(__always) func intersects(_ present: [UInt64]) -> Bool {
        for w in words where w.index < present.count && present[w.index] & w.bits != 0 { return true }
        return false
    }
}
