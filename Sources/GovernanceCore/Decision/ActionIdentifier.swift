/// `action.type` and `action.tool` name kinds of action, and rules are indexed and written by them.
/// An agent controls both strings, so `Shell`, ` shell` or `shell` followed by a NUL must not be a
/// type no rule names: they are compared case-insensitively, without surrounding white space and
/// without control or invisible format characters (a zero-width space, say), on the input and in
/// the rules' literals alike. The audit log keeps what the agent sent.
enum ActionIdentifier {
    static let fields = ["type", "tool"]

    /// The form in which type and tool are compared.
    static func fold(_ identifier: String) -> String {
        if identifier.utf8.allSatisfy(isPlain) { return identifier }
        var kept = String.UnicodeScalarView()
        for scalar in identifier.lowercased().unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .format: continue
            default: kept.append(scalar)
            }
        }
        return String(String(kept).trimmingWhitespace)
    }

    /// Lowercase ASCII letters, digits and `_-.:/`: already folded, the common case.
    private static func isPlain(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5F || byte == 0x2D || byte == 0x2E
            || byte == 0x3A || byte == 0x2F
    }
}

extension JudgedInput {
    /// The input as rules see it: `action.type` and `action.tool` folded (`ActionIdentifier`).
    var withActionIdentifiersFolded: JudgedInput {
        guard case .object(var action) = action else { return self }
        var changed = false
        for field in ActionIdentifier.fields {
            if case .string(let value)? = action[field] {
                let folded = ActionIdentifier.fold(value)
                if folded != value {
                    action[field] = .string(folded)
                    changed = true
                }
            }
        }
        guard changed else { return self }
        var folded = self
        folded.action = .object(action)
        return folded
    }
}

extension Expr {
    /// The rule as written, with the string literals compared to `action.type` or `action.tool`
    /// (`==`, `!=`, `in [...]`) folded as the input's values are.
    func foldingActionIdentifierLiterals() -> Expr {
        switch self {
        case .literal, .path, .call:
            return self
        case .list(let items, let offset):
            return .list(items.map { $0.foldingActionIdentifierLiterals() }, offset: offset)
        case .not(let inner, let offset):
            return .not(inner.foldingActionIdentifierLiterals(), offset: offset)
        case .and(let l, let r):
            return .and(l.foldingActionIdentifierLiterals(), r.foldingActionIdentifierLiterals())
        case .or(let l, let r):
            return .or(l.foldingActionIdentifierLiterals(), r.foldingActionIdentifierLiterals())
        case .compare(let op, let l, let r, let offset) where op == "==" || op == "!=":
            if l.isActionIdentifier { return .compare(op, l, r.foldedLiterals, offset: offset) }
            if r.isActionIdentifier { return .compare(op, l.foldedLiterals, r, offset: offset) }
            return self
        case .member(let l, let r, let offset) where l.isActionIdentifier:
            return .member(l, r.foldedLiterals, offset: offset)
        case .compare, .member:
            return self
        }
    }

    private var isActionIdentifier: Bool {
        switch self {
        case .path(.action, let components, _): components.count == 1 && ActionIdentifier.fields.contains(components[0])
        case .path(.input, let components, _): components.count == 2 && components[0] == "action" && ActionIdentifier.fields.contains(components[1])
        default: false
        }
    }

    /// A string literal, or a list of them, folded.
    private var foldedLiterals: Expr {
        switch self {
        case .literal(.string(let s), let offset): .literal(.string(ActionIdentifier.fold(s)), offset: offset)
        case .list(let items, let offset): .list(items.map(\.foldedLiterals), offset: offset)
        default: self
        }
    }
}
