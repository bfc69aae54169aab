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
        var result = WordScan(wordCount: Int(count))
        guard count > 0 else { return result }
        result.text = text
        var word: [UInt8] = []
        word.reserveCapacity(32)
        var position: Int32 = 0
        var start = 0
        var hash = Self.offsetBasis
        var nextPrefix = 0  // index into prefixLengths of the next prefix length to test

        func finishWord(end: Int) {
            guard !word.isEmpty else { return }
            if let e = lookup(hash, word[...]), !e.isPrefix {
                result.record(id: e.id, position: position, utf8Range: start..<end)
            }
            position += 1
            word.removeAll(keepingCapacity: true)
            hash = Self.offsetBasis
            nextPrefix = 0
        }

        func append(_ byte: UInt8, at offset: Int, end: Int) {
            if word.isEmpty { start = offset }
            word.append(byte)
            hash = (hash ^ UInt64(byte)) &* Self.prime
            // Prefix keywords are looked up with the running hash as the word grows.
            while nextPrefix < prefixLengths.count && prefixLengths[nextPrefix] < word.count { nextPrefix += 1 }
            if nextPrefix < prefixLengths.count && prefixLengths[nextPrefix] == word.count {
                if let e = lookup(Self.finishPrefix(hash), word[...]), e.isPrefix {
                    result.record(id: e.id, position: position, utf8Range: start..<end)
                }
                nextPrefix += 1
            }
        }

        var utf8 = text.utf8.makeIterator()
        var offset = 0
        if !text.utf8.contains(where: { $0 >= 0x80 }) {
            while let b = utf8.next() {
                if (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7A) {
                    append(b, at: offset, end: offset + 1)
                } else if b >= 0x41 && b <= 0x5A {
                    append(b + 0x20, at: offset, end: offset + 1)
                } else {
                    finishWord(end: offset)
                }
                offset += 1
            }
        } else {
            // Other scripts: letters and digits of any script make words; curly quotes, dashes and
            // other punctuation separate them, as ASCII punctuation does.
            for scalar in text.unicodeScalars {
                let width = UTF8.width(scalar)
                if scalar.isASCII {
                    let b = UInt8(scalar.value)
                    if (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7A) {
                        append(b, at: offset, end: offset + 1)
                    } else if b >= 0x41 && b <= 0x5A {
                        append(b + 0x20, at: offset, end: offset + 1)
                    } else {
                        finishWord(end: offset)
                    }
                } else if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                    for b in String(scalar).lowercased().utf8 { append(b, at: offset, end: offset + width) }
                } else {
                    finishWord(end: offset)
                }
                offset += width
            }
        }
        finishWord(end: offset)
        return result
    }
}

/// Which keywords a text contains, and where.
struct WordScan: Sendable {
    struct Occurrence: Sendable {
        var id: Int32
        var position: Int32
        var utf8Range: Range<Int>
    }

    var present: [UInt64]
    var occurrences: [Occurrence] = []
    var text: String = ""

    init(wordCount: Int) {
        present = Array(repeating: 0, count: (wordCount + 63) / 64)
    }

    mutating func record(id: Int32, position: Int32, utf8Range: Range<Int>) {
        present[Int(id) >> 6] |= 1 << UInt64(id & 63)
        occurrences.append(Occurrence(id: id, position: position, utf8Range: utf8Range))
    }

    func contains(_ id: Int32) -> Bool {
        present[Int(id) >> 6] & (1 << UInt64(id & 63)) != 0
    }

    func slice(_ range: Range<Int>) -> String {
        EvaluationScope.slice(text, range)
    }

    /// The first occurrence of a phrase (consecutive words), as a byte range.
    func find(phrase: [Int32]) -> Range<Int>? {
        for id in phrase where !contains(id) { return nil }
        guard let first = phrase.first else { return nil }
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
