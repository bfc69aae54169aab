/// Every keyword of a constitution, numbered. A text is tokenised once per evaluation into the ids of
/// the keywords it contains, so that each keyword rule is a few bit tests instead of string searches,
/// and the cost of a text does not grow with the number of keyword rules.
struct Vocabulary: Sendable {
    struct Entry: Sendable {
        var bytes: [UInt8]
        var id: Int32
    }

    /// Whole words by hash (collisions resolved by comparing bytes).
    var exact: [UInt64: [Entry]] = [:]
    /// Word prefixes written as `delet*`, by hash of the prefix.
    var prefixes: [UInt64: [Entry]] = [:]
    var prefixLengths: [Int] = []
    var count: Int32 = 0

    /// Adds a keyword (lowercased; a trailing `*` makes it a prefix) and returns its id.
    mutating func id(for keyword: String) -> Int32 {
        var bytes = Array(keyword.lowercased().utf8)
        let isPrefix = bytes.last == UInt8(ascii: "*")
        if isPrefix { bytes.removeLast() }
        let hash = Self.hash(bytes[...])
        if let found = (isPrefix ? prefixes : exact)[hash]?.first(where: { $0.bytes == bytes }) {
            return found.id
        }
        let entry = Entry(bytes: bytes, id: count)
        count += 1
        if isPrefix {
            prefixes[hash, default: []].append(entry)
            if !prefixLengths.contains(bytes.count) {
                prefixLengths.append(bytes.count)
                prefixLengths.sort()
            }
        } else {
            exact[hash, default: []].append(entry)
        }
        return entry.id
    }

    static func hash(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h &*= 0x100_0000_01b3
        }
        return h
    }

    /// Splits text into words (runs of letters and digits, case folded) and records which keywords
    /// occur where.
    func scan(_ text: String) -> WordScan {
        var result = WordScan(wordCount: Int(count))
        guard count > 0 else { return result }
        let source = text.utf8.contains(where: { $0 >= 0x80 }) ? text.lowercased() : text
        var buffer: [UInt8] = []
        buffer.reserveCapacity(32)
        var position: Int32 = 0
        var start = 0
        var offset = 0
        let utf8 = Array(source.utf8)
        func flush(end: Int) {
            guard !buffer.isEmpty else { return }
            let tokenHash = Self.hash(buffer[...])
            if let entries = exact[tokenHash] {
                for e in entries where e.bytes == buffer {
                    result.record(id: e.id, position: position, utf8Range: start..<end)
                }
            }
            for length in prefixLengths where length <= buffer.count {
                let slice = buffer[0..<length]
                if let entries = prefixes[Self.hash(slice)] {
                    for e in entries where e.bytes.elementsEqual(slice) {
                        result.record(id: e.id, position: position, utf8Range: start..<end)
                    }
                }
            }
            position += 1
            buffer.removeAll(keepingCapacity: true)
        }
        while offset < utf8.count {
            var b = utf8[offset]
            let isWord = (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || b >= 0x80
            if isWord {
                if buffer.isEmpty { start = offset }
                if b >= 0x41 && b <= 0x5A { b += 0x20 }
                buffer.append(b)
            } else {
                flush(end: offset)
            }
            offset += 1
        }
        flush(end: offset)
        result.text = source
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
        let utf8 = text.utf8
        let lower = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
        let upper = utf8.index(utf8.startIndex, offsetBy: range.upperBound)
        return String(text[lower..<upper])
    }

    /// The first occurrence of a phrase (consecutive words), as a byte range.
    func find(phrase: [Int32]) -> Range<Int>? {
        guard let first = phrase.first, contains(first) else { return nil }
        for id in phrase.dropFirst() where !contains(id) { return nil }
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
