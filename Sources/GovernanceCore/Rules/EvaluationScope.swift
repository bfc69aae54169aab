/// The working state of one evaluation: the input, what has been derived from it so far (field
/// values, the strings inside each root, word scans and detector findings per string), and the
/// evidence of the rule being evaluated. Each derived fact is computed at most once per evaluation,
/// however many rules and fields (`content`, `input`, ...) ask for it.
final class EvaluationScope {
    /// One string of the input and the facts derived from it.
    struct Leaf {
        var field: String
        var text: String
        /// An array of strings read as one text, its items joined by spaces (see `collectLeaves`).
        var joined = false
        var folded: String?
        var words: WordScan?
        var pii: [DetectedSpan]?
        var secrets: [DetectedSpan]?
        var injections: [DetectedSpan]?
        var hosts: [Hosts.Found]?
        /// Matches of the constitution's regular expressions already tried on this string, by id.
        var regexMatches: [(id: Int, match: Range<Int>?)] = []
    }

    /// Evidence as it is gathered; masked and formatted only if the rule matches.
    struct Pending {
        var field: String
        var text: String
        var detector: String?
        /// The text is masked already (detector spans).
        var masked: Bool
    }

    let input: JudgedInput
    let program: RuleProgram
    /// What is known of each field a rule reads, worked out when a rule first needs it.
    private struct Slot {
        var value: JSONValue?
        var leaves: LeafSet?
        /// Which keywords occur anywhere in the field (the union of its strings' word sets).
        var words: [UInt64]?
    }

    // A scope belongs to one evaluation on one thread, and its state is read and written by every
    // rule: the run-time exclusivity checks on these properties cost more than the rules themselves.
    /// One array for every field's state: an evaluation allocates as little as it can.
    @exclusivity(unchecked) private var slots: [Slot]
    @exclusivity(unchecked) private var leaves: [Leaf]
    /// The leaves of `action`, `content`, `context` and `agent`, once walked.
    @exclusivity(unchecked) private var rootLeaves: [Range<Int>?] = Array(repeating: nil, count: 4)
    @exclusivity(unchecked) var evidence: [Pending] = []

    init(input: JudgedInput, program: RuleProgram) {
        self.input = input
        self.program = program
        self.slots = Array(repeating: Slot(), count: program.slotPaths.count)
        self.leaves = []
        leaves.reserveCapacity(16)
        evidence.reserveCapacity(8)
    }

    func value(_ slot: Int) -> JSONValue {
        if let v = slots[slot].value { return v }
        let path = program.slotPaths[slot]
        var v = input.value(of: path.root)
        for component in path.components {
            switch v {
            case .object(let fields): v = fields[component] ?? .null
            case .array(let items): v = Int(component).flatMap { $0 >= 0 && $0 < items.count ? items[$0] : nil } ?? .null
            default: v = .null
            }
            if case .null = v { break }
        }
        slots[slot].value = v
        return v
    }

    // MARK: strings of the input

    /// The leaves of one root, walked once per evaluation.
    private func leaves(of root: InputRoot) -> Range<Int> {
        let r: Int
        switch root {
        case .action: r = 0
        case .content: r = 1
        case .context: r = 2
        case .agent, .input: r = 3
        }
        if let range = rootLeaves[r] { return range }
        let start = leaves.count
        collectLeaves(input.value(of: root), path: root.rawValue)
        let range = start..<leaves.count
        rootLeaves[r] = range
        return range
    }

    /// Every string inside `value` with its path, keys in byte order so that evidence comes in a fixed
    /// order. An array of two or more strings is also one text, its items joined by spaces: a command
    /// given as an argument vector (`["rm", "-rf", "/"]`) reads as its command line for the word
    /// functions and regular expressions, which would otherwise see `rm` and `-rf` apart.
    private func collectLeaves(_ value: JSONValue, path: String) {
        switch value {
        case .string(let s):
            leaves.append(Leaf(field: path, text: s))
        case .array(let items):
            for (i, item) in items.enumerated() { collectLeaves(item, path: path + "[" + String(i) + "]") }
            guard items.count > 1 else { return }
            var line = ""
            for item in items {
                guard case .string(let s) = item else { return }
                if !line.isEmpty { line += " " }
                line += s
            }
            leaves.append(Leaf(field: path, text: line, joined: true))
        case .object(let fields):
            fields.forEachSorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) { key, value in
                collectLeaves(value, path: path.isEmpty ? key : path + "." + key)
            }
        case .null, .bool, .number:
            break
        }
    }

    /// Indices of the strings inside a field, shared with every other field that contains them.
    /// A whole root (or all of `input`) is up to three ranges and costs no allocation.
    func leafIndices(_ slot: Int) -> LeafSet {
        if let l = slots[slot].leaves { return l }
        let path = program.slotPaths[slot]
        var set = LeafSet()
        if path.root == .input && path.components.isEmpty {
            set.ranges = (leaves(of: .action), leaves(of: .content), leaves(of: .context))
        } else {
            let root = path.root == .input ? InputRoot(rawValue: path.components[0]) : path.root
            if let root, root != .input {
                let range = leaves(of: root)
                let depth = path.root == .input ? path.components.count - 1 : path.components.count
                if depth == 0 {
                    set.ranges.0 = range
                } else {
                    let name = path.name
                    var list: [Int] = []
                    for i in range {
                        let f = leaves[i].field
                        if f == name || (f.hasPrefix(name) && Self.continuesPath(f, after: name)) { list.append(i) }
                    }
                    set.list = list
                }
            }
        }
        slots[slot].leaves = set
        return set
    }

    static func continuesPath(_ field: String, after prefix: String) -> Bool {
        let next = field.utf8.dropFirst(prefix.utf8.count).first
        return next == UInt8(ascii: ".") || next == UInt8(ascii: "[")
    }

    func text(_ leaf: Int, folded: Bool) -> String {
        guard folded else { return leaves[leaf].text }
        if let f = leaves[leaf].folded { return f }
        let f = leaves[leaf].text.lowercased()
        leaves[leaf].folded = f
        return f
    }

    func words(_ leaf: Int) -> WordScan {
        if let w = leaves[leaf].words { return w }
        let w = program.vocabulary.scan(leaves[leaf].text)
        leaves[leaf].words = w
        return w
    }

    func findings(_ leaf: Int, _ category: DetectedSpan.Category) -> [DetectedSpan] {
        switch category {
        case .pii:
            if let f = leaves[leaf].pii { return f }
            let f = PIIDetector.scan(leaves[leaf].text)
            leaves[leaf].pii = f
            return f
        case .secret:
            if let f = leaves[leaf].secrets { return f }
            let f = SecretDetector.scan(leaves[leaf].text)
            leaves[leaf].secrets = f
            return f
        case .injection:
            if let f = leaves[leaf].injections { return f }
            let f = InjectionDetector.scan(leaves[leaf].text)
            leaves[leaf].injections = f
            return f
        }
    }

    // MARK: matching

    /// Runs `body` on each string of the field (as given, not joined) until it reports a match; records
    /// the matched text.
    func firstLeafMatch(slot: Int, folded: Bool, _ body: (String) -> Range<Int>?) -> Bool {
        for i in leafIndices(slot) where !leaves[i].joined {
            let t = text(i, folded: folded)
            if let range = body(t) {
                evidence.append(Pending(field: leaves[i].field, text: Self.slice(t, range), detector: nil, masked: false))
                return true
            }
        }
        return false
    }

    func findRegex(slot: Int, _ regex: CompiledRegex) -> Bool {
        for i in leafIndices(slot) {
            let match: Range<Int>?
            if let known = leaves[i].regexMatches.first(where: { $0.id == regex.id }) {
                match = known.match
            } else {
                match = regex.firstMatch(in: leaves[i].text)
                leaves[i].regexMatches.append((regex.id, match))
            }
            if let match {
                evidence.append(Pending(field: leaves[i].field, text: Self.slice(leaves[i].text, match), detector: nil, masked: false))
                return true
            }
        }
        return false
    }

    func findHost(slot: Int, within domains: Set<String>) -> Bool {
        for i in leafIndices(slot) where !leaves[i].joined {
            let hosts: [Hosts.Found]
            if let h = leaves[i].hosts {
                hosts = h
            } else {
                hosts = Hosts.all(in: leaves[i].text)
                leaves[i].hosts = hosts
            }
            for host in hosts where host.names.contains(where: domains.contains) {
                let folded = text(i, folded: true)
                evidence.append(Pending(field: leaves[i].field, text: Self.slice(folded, host.utf8Range), detector: nil, masked: false))
                return true
            }
        }
        return false
    }

    /// False when none of the keywords occurs anywhere in the field, so the rule cannot match.
    func mayContain(slot: Int, _ mask: WordMask) -> Bool {
        if let present = slots[slot].words { return mask.intersects(present) }
        var union = Array(repeating: UInt64(0), count: (Int(program.vocabulary.count) + 63) / 64)
        for i in leafIndices(slot) {
            let present = words(i).present
            for k in 0..<union.count { union[k] |= present[k] }
        }
        slots[slot].words = union
        return mask.intersects(union)
    }

    func findPhrase(slot: Int, phrases: [[Int32]]) -> Bool {
        for i in leafIndices(slot) {
            let scan = words(i)
            for phrase in phrases {
                if let range = scan.find(phrase: phrase) {
                    evidence.append(Pending(field: leaves[i].field, text: scan.slice(range), detector: nil, masked: false))
                    return true
                }
            }
        }
        return false
    }

    func findNear(slot: Int, _ first: [Int32], _ second: [Int32], within distance: Int32) -> Bool {
        for i in leafIndices(slot) {
            let scan = words(i)
            guard first.contains(where: scan.contains), second.contains(where: scan.contains) else { continue }
            for a in scan.occurrences where first.contains(a.id) {
                for b in scan.occurrences where second.contains(b.id) && b.position != a.position && abs(b.position - a.position) <= distance {
                    let range = min(a.utf8Range.lowerBound, b.utf8Range.lowerBound)..<max(a.utf8Range.upperBound, b.utf8Range.upperBound)
                    evidence.append(Pending(field: leaves[i].field, text: scan.slice(range), detector: nil, masked: false))
                    return true
                }
            }
        }
        return false
    }

    func detect(slot: Int, category: DetectedSpan.Category, kinds: Set<String>?) -> Bool {
        var matched = false
        // Detectors read each string as given: joined, a span would be reported twice.
        for i in leafIndices(slot) where !leaves[i].joined {
            for span in findings(i, category) where kinds?.contains(span.kind) ?? true {
                matched = true
                // Detector spans are masked already.
                evidence.append(Pending(field: leaves[i].field, text: span.masked, detector: "\(category.rawValue):\(span.kind)", masked: true))
            }
        }
        return matched
    }

    /// Evidence of a comparison: the field and the value it held.
    func addEvidence(field: String, value: JSONValue) {
        let text: String =
            switch value {
            case .string(let s): s
            default: CanonicalJSON.encode(value)
            }
        evidence.append(Pending(field: field, text: text, detector: nil, masked: false))
    }

    /// The evidence of a matched rule, with personal data and secrets masked: a rule that matched
    /// on `to == "x"` must not leak an address or a key.
    func finishedEvidence() -> [Evidence] {
        var out: [Evidence] = []
        out.reserveCapacity(evidence.count)
        for p in evidence {
            let clipped = p.text.utf8.count > 200 ? String(decoding: p.text.utf8.prefix(200), as: UTF8.self) + "…" : p.text
            let e = Evidence(field: p.field, match: p.masked ? clipped : Masking.mask(clipped), detector: p.detector)
            if !out.contains(e) { out.append(e) }
        }
        return out
    }

    static func slice(_ text: String, _ range: Range<Int>) -> String {
        let utf8 = text.utf8
        let lower = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
        let upper = utf8.index(lower, offsetBy: range.count)
        return String(decoding: utf8[lower..<upper], as: UTF8.self)
    }
}

/// The detectors by category, for rules and for the evaluation scope.
enum Detectors {
    static func kinds(of category: DetectedSpan.Category) -> Set<String> {
        switch category {
        case .pii: PIIDetector.kinds
        case .secret: SecretDetector.kinds
        case .injection: InjectionDetector.kinds
        }
    }
}

/// The strings of one field: up to three contiguous ranges of leaves, or a list for a field deep
/// inside a root.
struct LeafSet: Sequence {
    var ranges: (Range<Int>, Range<Int>, Range<Int>) = (0..<0, 0..<0, 0..<0)
    var list: [Int]?

    struct Iterator: IteratorProtocol {
        var set: LeafSet
        var part = 0
        var position: Int
        var listIndex = 0

        init(_ set: LeafSet) {
            self.set = set
            position = set.ranges.0.lowerBound
        }

        mutating func next() -> Int? {
            if let list = set.list {
                guard listIndex < list.count else { return nil }
                listIndex += 1
                return list[listIndex - 1]
            }
            while part < 3 {
                let range = part == 0 ? set.ranges.0 : (part == 1 ? set.ranges.1 : set.ranges.2)
                if position < range.upperBound {
                    position += 1
                    return position - 1
                }
                part += 1
                if part < 3 { position = part == 1 ? set.ranges.1.lowerBound : set.ranges.2.lowerBound }
            }
            return nil
        }
    }

    func makeIterator() -> Iterator { Iterator(self) }
}
