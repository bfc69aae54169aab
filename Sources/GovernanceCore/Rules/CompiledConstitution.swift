/// What every evaluation of a constitution shares: the keyword vocabulary and the fields rules read.
final class RuleProgram: Sendable {
    let vocabulary: Vocabulary
    let slotPaths: [(root: InputRoot, components: [String], name: String)]

    init(vocabulary: Vocabulary, slotPaths: [(root: InputRoot, components: [String], name: String)]) {
        self.vocabulary = vocabulary
        self.slotPaths = slotPaths
    }
}

/// A class, so that visiting a rule costs one reference count, not one per field of its definition.
final class CompiledRule: Sendable {
    let definition: RuleDefinition
    let predicate: Predicate
    /// How the rule is cited in reasoning, and what it recommends, written once.
    let citation: String
    let recommendation: String

    init(definition: RuleDefinition, predicate: @escaping Predicate) {
        self.definition = definition
        self.predicate = predicate
        self.citation = Judgement.citation(definition)
        self.recommendation = definition.recommendation ?? Judgement.defaultRecommendation(definition)
    }
}

/// A constitution ready to judge: rules compiled once into closures and indexed by the action type
/// and tool they are written for, so that a decision evaluates only the rules that can match.
public final class CompiledConstitution: Sendable {
    public let document: ConstitutionDocument
    public let identity: ConstitutionIdentity
    let rules: [CompiledRule]
    let program: RuleProgram
    /// Rule positions (in constitution order) keyed by the `action.type` / `action.tool` they require.
    let byType: [String: [Int]]
    let byTool: [String: [Int]]
    /// Rules that must be considered for every input.
    let general: [Int]
    let principlesById: [String: Principle]
    /// The reasoning of an allow with no match, the most common decision, written once.
    let cleanReasoning: String
    let under: String

    public var hash: String { identity.hash }
    public var version: String { document.version }
    public var ruleCount: Int { rules.count }

    /// Compiles a loaded document, reporting every error with its file, rule, line and column.
    public convenience init(_ loaded: LoadedDocument) throws(ConstitutionError) {
        try self.init(loaded.document, locate: { rule, offset in loaded.position(ofRule: rule, conditionOffset: offset) }, file: loaded.file)
    }

    public convenience init(_ document: ConstitutionDocument) throws(ConstitutionError) {
        try self.init(document, locate: { _, _ in nil }, file: nil)
    }

    /// Parses and compiles constitution text (YAML or JSON).
    public convenience init(source: String, file: String? = nil) throws(ConstitutionError) {
        try self.init(try ConstitutionLoader.load(source, file: file))
    }

    private init(
        _ document: ConstitutionDocument, locate: (String, Int) -> SourcePosition?, file: String?
    ) throws(ConstitutionError) {
        var compiler = RuleCompiler()
        var issues: [ConstitutionIssue] = []
        var compiled: [CompiledRule] = []
        var byType: [String: [Int]] = [:]
        var byTool: [String: [Int]] = [:]
        var general: [Int] = []
        let principleIds = Set(document.principles.map(\.id))
        for rule in document.rules {
            if !principleIds.contains(rule.principle) {
                issues.append(ConstitutionIssue(file: file, ruleId: rule.id, message: "unknown principle '\(rule.principle)'"))
            }
            do {
                let expr = try Parser.parse(rule.condition).foldingActionIdentifierLiterals()
                let c = try compiler.compileBoolean(expr)
                let position = compiled.count
                compiled.append(CompiledRule(definition: rule, predicate: c.predicate))
                if let (field, values) = Self.indexKey(expr) {
                    for v in values {
                        if field == "type" { byType[v, default: []].append(position) } else { byTool[v, default: []].append(position) }
                    }
                } else {
                    general.append(position)
                }
            } catch {
                issues.append(ConstitutionIssue(file: file, ruleId: rule.id, position: locate(rule.id, error.offset), message: error.message))
            }
        }
        let identity = ConstitutionIdentity.of(document)
        if let declared = document.declaredHash, declared != identity.hash {
            let message =
                declared == ReferenceConstitution.hash
                ? "claims to be the reference constitution \(declared), but its SHA-256 digest \(identity.digest) is not the pinned \(ReferenceConstitution.pinnedDigest): it was changed outside the amendment process"
                : "declares hash \(declared), but its content hashes to \(identity.hash) (digest \(identity.digest)): it was changed outside the amendment process"
            issues.append(ConstitutionIssue(file: file, message: message))
        }
        if !issues.isEmpty { throw ConstitutionError(issues: issues) }
        self.document = document
        self.identity = identity
        self.rules = compiled
        self.program = RuleProgram(vocabulary: compiler.vocabulary, slotPaths: compiler.slotPaths)
        self.byType = byType
        self.byTool = byTool
        self.general = general
        self.principlesById = Dictionary(document.principles.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        self.under = Judgement.under(document)
        self.cleanReasoning = Judgement.reasoning(.allow, hasWarnings: false, cited: { _ in "" }, under: under)
    }

    /// The `action.type` or `action.tool` values a rule requires, from the conjuncts at the top of
    /// its condition (`action.type == "shell" && ...` or `action.tool in ["a", "b"] && ...`).
    static func indexKey(_ expr: Expr) -> (String, [String])? {
        var conjuncts: [Expr] = []
        func flatten(_ e: Expr) {
            if case .and(let l, let r) = e { flatten(l); flatten(r) } else { conjuncts.append(e) }
        }
        flatten(expr)
        for field in ["type", "tool"] {
            for c in conjuncts {
                switch c {
                case .compare("==", .path(.action, [field], _), .literal(.string(let v), _), _),
                    .compare("==", .literal(.string(let v), _), .path(.action, [field], _), _):
                    return (field, [v])
                case .member(.path(.action, [field], _), .list(let items, _), _):
                    var values: [String] = []
                    for item in items {
                        guard case .literal(.string(let v), _) = item else { return nil }
                        values.append(v)
                    }
                    return (field, values)
                default:
                    continue
                }
            }
        }
        return nil
    }

    public func principle(_ id: String) -> Principle? { principlesById[id] }

    /// Judges an input. `principles` limits evaluation to the rules of those principles.
    public func evaluate(_ input: JudgedInput, principles: Set<String>? = nil) -> Evaluation {
        let input = input.withActionIdentifiersFolded
        let scope = EvaluationScope(input: input, program: program)
        var violations: [Violation] = []
        var matched: [CompiledRule] = []
        let typed = input.action["type"].stringValue.flatMap { byType[$0] } ?? []
        let tooled = input.action["tool"].stringValue.flatMap { byTool[$0] } ?? []
        // Merge the three sorted, disjoint candidate lists so that rules run in constitution order.
        var (g, t, o) = (0, 0, 0)
        while g < general.count || t < typed.count || o < tooled.count {
            let next = min(
                g < general.count ? general[g] : Int.max, t < typed.count ? typed[t] : Int.max,
                o < tooled.count ? tooled[o] : Int.max)
            if g < general.count && general[g] == next { g += 1 }
            if t < typed.count && typed[t] == next { t += 1 }
            if o < tooled.count && tooled[o] == next { o += 1 }
            let rule = rules[next]
            if let principles, !principles.contains(rule.definition.principle) { continue }
            if !scope.evidence.isEmpty { scope.evidence.removeAll(keepingCapacity: true) }
            guard rule.predicate(scope) else { continue }
            let d = rule.definition
            violations.append(
                Violation(
                    ruleId: d.id, principleId: d.principle, severity: d.severity, effect: d.effect, message: d.message,
                    evidence: scope.finishedEvidence()))
            matched.append(rule)
        }
        return Judgement.combine(violations, of: matched, under: under, cleanReasoning: cleanReasoning)
    }
}
