/// The working state of one evaluation: the input, what has been derived from each field so far
/// (values, strings, word scans, detector findings), and the evidence of the rule being evaluated.
/// Each derived fact is computed at most once per evaluation, however many rules ask for it.
final class EvaluationScope {
    struct Leaf {
        var field: String
        var text: String
    }

    struct Finding {
        var field: String
        var span: DetectedSpan
    }

    /// Facts derived from one field of the input.
    struct Memo {
        var value: JSONValue?
        var leaves: [Leaf]?
        var foldedLeaves: [Leaf]?
        var words: [WordScan]?
        var findings: [DetectedSpan.Category: [Finding]] = [:]
    }

    let input: JudgedInput
    let program: RuleProgram
    var memos: [Memo]
    var evidence: [Evidence] = []

    init(input: JudgedInput, program: RuleProgram) {
        self.input = input
        self.program = program
        self.memos = Array(repeating: Memo(), count: program.slotPaths.count)
    }

    func value(_ slot: Int) -> JSONValue {
        if let v = memos[slot].value { return v }
        let path = program.slotPaths[slot]
        var v = input.value(of: path.root)
        for component in path.components {
            switch v {
            case .object(let fields): v = fields[component] ?? .null
            case .array(let items): v = Int(component).flatMap { $0 < items.count ? items[$0] : nil } ?? .null
            default: v = .null
            }
            if case .null = v { break }
        }
        memos[slot].value = v
        return v
    }

    /// Every string inside the field, with the path that leads to it.
    func leaves(_ slot: Int) -> [Leaf] {
        if let l = memos[slot].leaves { return l }
        var out: [Leaf] = []
        value(slot).forEachString(path: program.slotPaths[slot].name) { out.append(Leaf(field: $0, text: $1)) }
        memos[slot].leaves = out
        return out
    }

    func foldedLeaves(_ slot: Int) -> [Leaf] {
        if let l = memos[slot].foldedLeaves { return l }
        let out = leaves(slot).map { Leaf(field: $0.field, text: $0.text.lowercased()) }
        memos[slot].foldedLeaves = out
        return out
    }

    func words(_ slot: Int) -> [WordScan] {
        if let w = memos[slot].words { return w }
        let out = leaves(slot).map { program.vocabulary.scan($0.text) }
        memos[slot].words = out
        return out
    }

    /// Runs `body` on each string of the field until it reports a match; records the matched text.
    func firstLeafMatch(slot: Int, folded: Bool, _ body: (String) -> Range<Int>?) -> Bool {
        let leaves = folded ? foldedLeaves(slot) : leaves(slot)
        for leaf in leaves {
            if let range = body(leaf.text) {
                addEvidence(field: leaf.field, text: Self.slice(leaf.text, range))
                return true
            }
        }
        return false
    }

    func findPhrase(slot: Int, phrases: [[Int32]]) -> Bool {
        let scans = words(slot)
        for (i, scan) in scans.enumerated() {
            for phrase in phrases {
                if let range = scan.find(phrase: phrase) {
                    addEvidence(field: leaves(slot)[i].field, text: scan.slice(range))
                    return true
                }
            }
        }
        return false
    }

    func findNear(slot: Int, _ first: [Int32], _ second: [Int32], within distance: Int32) -> Bool {
        let scans = words(slot)
        for (i, scan) in scans.enumerated() {
            guard first.contains(where: scan.contains), second.contains(where: scan.contains) else { continue }
            for a in scan.occurrences where first.contains(a.id) {
                for b in scan.occurrences where second.contains(b.id) && b.position != a.position && abs(b.position - a.position) <= distance {
                    let range = min(a.utf8Range.lowerBound, b.utf8Range.lowerBound)..<max(a.utf8Range.upperBound, b.utf8Range.upperBound)
                    addEvidence(field: leaves(slot)[i].field, text: scan.slice(range))
                    return true
                }
            }
        }
        return false
    }

    func detect(slot: Int, category: DetectedSpan.Category, kinds: Set<String>?) -> Bool {
        let findings: [Finding]
        if let cached = memos[slot].findings[category] {
            findings = cached
        } else {
            var out: [Finding] = []
            for leaf in leaves(slot) {
                for span in Detectors.scan(leaf.text, category: category) { out.append(Finding(field: leaf.field, span: span)) }
            }
            memos[slot].findings[category] = out
            findings = out
        }
        var matched = false
        for f in findings where kinds?.contains(f.span.kind) ?? true {
            matched = true
            evidence.append(Evidence(field: f.field, match: f.span.masked, detector: "\(category.rawValue):\(f.span.kind)"))
        }
        return matched
    }

    func addEvidence(field: String, value: JSONValue) {
        switch value {
        case .string(let s): addEvidence(field: field, text: s)
        case .array, .object: addEvidence(field: field, text: CanonicalJSON.encode(value))
        default: evidence.append(Evidence(field: field, match: CanonicalJSON.encode(value)))
        }
    }

    /// Evidence text is masked: a rule that matched on `to == "x"` must not leak an address or key.
    func addEvidence(field: String, text: String) {
        let clipped = text.utf8.count > 200 ? String(decoding: text.utf8.prefix(200), as: UTF8.self) + "…" : text
        evidence.append(Evidence(field: field, match: Masking.mask(clipped)))
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

    static func scan(_ text: String, category: DetectedSpan.Category) -> [DetectedSpan] {
        switch category {
        case .pii: PIIDetector.scan(text)
        case .secret: SecretDetector.scan(text)
        case .injection: InjectionDetector.scan(text)
        }
    }
}
