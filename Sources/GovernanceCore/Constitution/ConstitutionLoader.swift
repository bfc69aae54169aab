import Yams

/// A line and column in a constitution file, both starting at 1.
public struct SourcePosition: Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

/// One problem found in a constitution, located as precisely as the source allows.
public struct ConstitutionIssue: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String?
    public var ruleId: String?
    public var position: SourcePosition?
    public var message: String

    public init(file: String? = nil, ruleId: String? = nil, position: SourcePosition? = nil, message: String) {
        self.file = file
        self.ruleId = ruleId
        self.position = position
        self.message = message
    }

    public var description: String {
        var out = file ?? "<constitution>"
        if let position { out += ":\(position.line):\(position.column)" }
        out += ": "
        if let ruleId { out += "rule \(ruleId): " }
        return out + message
    }
}

/// Every problem found in a constitution; loading reports them all, not just the first.
public struct ConstitutionError: Error, Sendable, CustomStringConvertible {
    public var issues: [ConstitutionIssue]

    public init(issues: [ConstitutionIssue]) { self.issues = issues }

    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Where a rule's condition sits in its file, so that errors inside it point at the right column.
struct ConditionSource: Sendable {
    enum Style: Sendable { case plain, quoted, block }
    var start: SourcePosition
    var style: Style
}

/// A parsed document plus what is needed to locate errors in it.
public struct LoadedDocument: Sendable {
    public var document: ConstitutionDocument
    public var file: String?
    var source: String
    var conditionSources: [String: ConditionSource]

    /// Maps an offset (in Unicode scalars) inside a rule's condition to a position in the file, by
    /// aligning the non-blank characters of the condition with those of the source; this holds for
    /// plain, quoted, literal and folded YAML scalars and for JSON strings.
    func position(ofRule ruleId: String, conditionOffset: Int) -> SourcePosition? {
        guard let rule = document.rules.first(where: { $0.id == ruleId }),
            let where_ = conditionSources[ruleId]
        else { return nil }
        let target = rule.condition.unicodeScalars.prefix(conditionOffset).filter { !$0.properties.isWhitespace }.count
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        var line = where_.start.line
        var skip = 0  // scalars to skip at the start: the quote, or the whole block indicator line
        switch where_.style {
        case .block: line += 1
        case .quoted: skip = 1
        case .plain: skip = 0
        }
        var seen = 0
        var firstLine = where_.style != .block
        while line <= lines.count {
            let scalars = Array(lines[line - 1].unicodeScalars)
            var column = firstLine ? where_.start.column - 1 + skip : 0
            while column < scalars.count {
                if !scalars[column].properties.isWhitespace {
                    if seen == target { return SourcePosition(line: line, column: column + 1) }
                    seen += 1
                }
                column += 1
            }
            firstLine = false
            line += 1
        }
        return where_.start
    }
}

/// Reads constitutions written in YAML or JSON (JSON is read by the same YAML parser, which keeps
/// line and column marks for every node).
public enum ConstitutionLoader {
    public static func load(_ text: String, file: String? = nil) throws(ConstitutionError) -> LoadedDocument {
        var reader = Reader(file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConstitutionError(issues: [reader.yamlIssue(error)])
        } catch {
            throw ConstitutionError(issues: [ConstitutionIssue(file: file, message: "\(error)")])
        }
        guard let root, case .mapping(let top) = root else {
            throw ConstitutionError(issues: [
                ConstitutionIssue(file: file, position: reader.pos(root), message: "a constitution is a mapping with metadata, principles and rules")
            ])
        }
        let document = reader.document(top)
        if !reader.issues.isEmpty { throw ConstitutionError(issues: reader.issues) }
        return LoadedDocument(document: document, file: file, source: text, conditionSources: reader.conditionSources)
    }

    private struct Reader {
        let file: String?
        var issues: [ConstitutionIssue] = []
        var conditionSources: [String: ConditionSource] = [:]

        init(file: String?) { self.file = file }

        func pos(_ node: Node?) -> SourcePosition? {
            node?.mark.map { SourcePosition(line: $0.line, column: $0.column) }
        }

        func yamlIssue(_ error: YamlError) -> ConstitutionIssue {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
                return ConstitutionIssue(file: file, position: SourcePosition(line: mark.line, column: mark.column), message: "syntax error: \(problem)")
            default:
                return ConstitutionIssue(file: file, message: "syntax error: \(error)")
            }
        }

        mutating func fail(_ node: Node?, _ message: String, rule: String? = nil) {
            issues.append(ConstitutionIssue(file: file, ruleId: rule, position: pos(node), message: message))
        }

        /// The fields of a mapping by name, reporting unknown and duplicate keys.
        mutating func fields(_ mapping: Node.Mapping, allowed: Set<String>, context: String, rule: String? = nil) -> [String: Node] {
            var out: [String: Node] = [:]
            for (key, value) in mapping {
                guard let name = key.scalar?.string else {
                    fail(key, "\(context): keys must be strings", rule: rule)
                    continue
                }
                if !allowed.contains(name) {
                    fail(key, "\(context): unknown field '\(name)' (expected one of \(allowed.sorted().joined(separator: ", ")))", rule: rule)
                } else if out[name] != nil {
                    fail(key, "\(context): duplicate field '\(name)'", rule: rule)
                } else {
                    out[name] = value
                }
            }
            return out
        }

        mutating func string(_ fields: [String: Node], _ name: String, context: String, at parent: Node, rule: String? = nil, required: Bool = true) -> String? {
            guard let node = fields[name] else {
                if required { fail(parent, "\(context): missing required field '\(name)'", rule: rule) }
                return nil
            }
            guard let scalar = node.scalar else {
                fail(node, "\(context): field '\(name)' must be a string", rule: rule)
                return nil
            }
            if required && scalar.string.trimmingWhitespace.isEmpty {
                fail(node, "\(context): field '\(name)' must not be empty", rule: rule)
                return nil
            }
            return scalar.string
        }

        mutating func enumValue<E: RawRepresentable & CaseIterable>(_ fields: [String: Node], _ name: String, context: String, at parent: Node, rule: String? = nil) -> E? where E.RawValue == String {
            guard let text = string(fields, name, context: context, at: parent, rule: rule) else { return nil }
            guard let value = E(rawValue: text) else {
                fail(fields[name], "\(context): '\(text)' is not a valid \(name) (expected one of \(E.allCases.map(\.rawValue).joined(separator: ", ")))", rule: rule)
                return nil
            }
            return value
        }

        mutating func document(_ top: Node.Mapping) -> ConstitutionDocument {
            let topNode = Node.mapping(top)
            let f = fields(top, allowed: ["metadata", "principles", "rules"], context: "constitution")
            var name = "", version = "", description = ""
            var parentHash: String?, declaredHash: String?
            if let metaNode = f["metadata"], case .mapping(let meta) = metaNode {
                let m = fields(meta, allowed: ["name", "version", "description", "parent_hash", "hash"], context: "metadata")
                name = string(m, "name", context: "metadata", at: metaNode) ?? ""
                version = string(m, "version", context: "metadata", at: metaNode) ?? ""
                description = string(m, "description", context: "metadata", at: metaNode, required: false) ?? ""
                parentHash = string(m, "parent_hash", context: "metadata", at: metaNode, required: false)
                declaredHash = string(m, "hash", context: "metadata", at: metaNode, required: false)
            } else {
                fail(f["metadata"] ?? topNode, "constitution: 'metadata' must be a mapping with name and version")
            }

            var principles: [Principle] = []
            if let node = f["principles"], case .sequence(let items) = node {
                for (i, item) in items.enumerated() {
                    let context = "principles[\(i)]"
                    guard case .mapping(let m) = item else { fail(item, "\(context): must be a mapping"); continue }
                    let p = fields(m, allowed: ["id", "title", "description", "category", "severity"], context: context)
                    let id = string(p, "id", context: context, at: item)
                    let title = string(p, "title", context: context, at: item)
                    let desc = string(p, "description", context: context, at: item)
                    let category = string(p, "category", context: context, at: item)
                    let severity: Severity? = enumValue(p, "severity", context: context, at: item)
                    if let id, let title, let desc, let category, let severity {
                        if principles.contains(where: { $0.id == id }) {
                            fail(p["id"], "\(context): duplicate principle id '\(id)'")
                        }
                        principles.append(Principle(id: id, title: title, description: desc, category: category, severity: severity))
                    }
                }
            } else {
                fail(f["principles"] ?? topNode, "constitution: 'principles' must be a list")
            }

            var rules: [RuleDefinition] = []
            if let node = f["rules"], case .sequence(let items) = node {
                for (i, item) in items.enumerated() {
                    var context = "rules[\(i)]"
                    guard case .mapping(let m) = item else { fail(item, "\(context): must be a mapping"); continue }
                    let ruleId = m["id"]?.scalar?.string
                    if let ruleId { context = "rule '\(ruleId)'" }
                    let r = fields(m, allowed: ["id", "principle", "effect", "severity", "message", "condition", "recommendation"], context: context, rule: ruleId)
                    let id = string(r, "id", context: context, at: item, rule: ruleId)
                    let principle = string(r, "principle", context: context, at: item, rule: ruleId)
                    let effect: Effect? = enumValue(r, "effect", context: context, at: item, rule: ruleId)
                    let severity: Severity? = enumValue(r, "severity", context: context, at: item, rule: ruleId)
                    let message = string(r, "message", context: context, at: item, rule: ruleId)
                    let condition = string(r, "condition", context: context, at: item, rule: ruleId)
                    let recommendation = string(r, "recommendation", context: context, at: item, rule: ruleId, required: false)
                    if let principle, !principles.isEmpty, !principles.contains(where: { $0.id == principle }) {
                        fail(r["principle"], "unknown principle '\(principle)'", rule: ruleId)
                    }
                    guard let id, let principle, let effect, let severity, let message, let condition else { continue }
                    if rules.contains(where: { $0.id == id }) {
                        fail(r["id"], "duplicate rule id '\(id)'", rule: id)
                        continue
                    }
                    if let node = r["condition"], let scalar = node.scalar, let mark = node.mark {
                        let style: ConditionSource.Style =
                            switch scalar.style {
                            case .literal, .folded: .block
                            case .singleQuoted, .doubleQuoted: .quoted
                            case .plain, .any: .plain
                            }
                        conditionSources[id] = ConditionSource(start: SourcePosition(line: mark.line, column: mark.column), style: style)
                    }
                    // White space around a condition carries no meaning (a YAML block scalar keeps a final
                    // line break or not depending on what follows it), so it is not part of the canonical form.
                    let trimmed = String(condition.trimmingWhitespace)
                    rules.append(RuleDefinition(id: id, principle: principle, effect: effect, severity: severity, message: message, condition: trimmed, recommendation: recommendation))
                }
            } else {
                fail(f["rules"] ?? topNode, "constitution: 'rules' must be a list")
            }
            return ConstitutionDocument(name: name, version: version, description: description, parentHash: parentHash, declaredHash: declaredHash, principles: principles, rules: rules)
        }
    }
}

extension String {
    /// The string without leading and trailing white space (Unicode-aware, no Foundation).
    public var trimmingWhitespace: Substring {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return Substring(scalars[first...last])
    }
}
