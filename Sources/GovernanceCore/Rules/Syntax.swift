/// An error in a rule condition, at an offset (in Unicode scalars) into the condition text.
public struct RuleSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    public var offset: Int
    public var message: String

    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String { "at offset \(offset): \(message)" }
}

enum Token: Equatable {
    case identifier(String)
    case string(String)
    case number(Double)
    case symbol(String)  // ( ) [ ] , . == != < <= > >= && || !
    case end
}

struct LexedToken {
    var token: Token
    var offset: Int
}

/// Splits a condition into tokens, remembering where each one starts.
enum Lexer {
    static func tokens(_ source: String) throws(RuleSyntaxError) -> [LexedToken] {
        let s = Array(source.unicodeScalars)
        var out: [LexedToken] = []
        var i = 0
        func isIdentStart(_ c: Unicode.Scalar) -> Bool { c == "_" || (c.isASCII && c.properties.isAlphabetic) }
        func isIdent(_ c: Unicode.Scalar) -> Bool { isIdentStart(c) || ("0"..."9").contains(c) }
        while i < s.count {
            let c = s[i]
            if c.properties.isWhitespace { i += 1; continue }
            let start = i
            if c == "#" {  // comment to end of line
                while i < s.count && s[i] != "\n" { i += 1 }
                continue
            }
            if isIdentStart(c) {
                while i < s.count && isIdent(s[i]) { i += 1 }
                out.append(LexedToken(token: .identifier(String(String.UnicodeScalarView(s[start..<i]))), offset: start))
                continue
            }
            if ("0"..."9").contains(c) {
                while i < s.count && (("0"..."9").contains(s[i]) || s[i] == "." || s[i] == "_") {
                    // a dot followed by a letter is member access, not a decimal point
                    if s[i] == ".", i + 1 < s.count, !("0"..."9").contains(s[i + 1]) { break }
                    i += 1
                }
                let text = String(String.UnicodeScalarView(s[start..<i])).replacingUnderscores
                guard let n = Double(text) else { throw RuleSyntaxError(offset: start, message: "invalid number '\(text)'") }
                out.append(LexedToken(token: .number(n), offset: start))
                continue
            }
            if c == "\"" || c == "'" {
                i += 1
                var value = String.UnicodeScalarView()
                var closed = false
                while i < s.count {
                    let d = s[i]
                    if d == c { closed = true; i += 1; break }
                    if d == "\\" {
                        guard i + 1 < s.count else { break }
                        let e = s[i + 1]
                        switch e {
                        case "n": value.append("\n")
                        case "t": value.append("\t")
                        case "r": value.append("\r")
                        case "\\", "\"", "'": value.append(e)
                        default:
                            // Unknown escapes are kept as written so that regular expressions read naturally.
                            value.append("\\")
                            value.append(e)
                        }
                        i += 2
                        continue
                    }
                    value.append(d)
                    i += 1
                }
                guard closed else { throw RuleSyntaxError(offset: start, message: "unterminated string") }
                out.append(LexedToken(token: .string(String(value)), offset: start))
                continue
            }
            let two = i + 1 < s.count ? String(String.UnicodeScalarView([c, s[i + 1]])) : ""
            if ["==", "!=", "<=", ">=", "&&", "||"].contains(two) {
                out.append(LexedToken(token: .symbol(two), offset: start))
                i += 2
                continue
            }
            if "()[],.<>!".unicodeScalars.contains(c) {
                out.append(LexedToken(token: .symbol(String(c)), offset: start))
                i += 1
                continue
            }
            if c == "=" { throw RuleSyntaxError(offset: start, message: "unexpected '=': use '==' to compare") }
            if c == "&" || c == "|" {
                throw RuleSyntaxError(offset: start, message: "unexpected '\(c)': use '\(c)\(c)'")
            }
            throw RuleSyntaxError(offset: start, message: "unexpected character '\(c)'")
        }
        out.append(LexedToken(token: .end, offset: s.count))
        return out
    }
}

extension String {
    fileprivate var replacingUnderscores: String { String(unicodeScalars.filter { $0 != "_" }) }
}

/// The roots a condition may read from.
public enum InputRoot: String, Sendable, CaseIterable {
    case action, content, context, agent
    /// The whole judged input (action, content and context), for detectors that look everywhere.
    case input
}

indirect enum Expr {
    case literal(JSONValue, offset: Int)
    case list([Expr], offset: Int)
    case path(InputRoot, [String], offset: Int)
    case not(Expr, offset: Int)
    case and(Expr, Expr)
    case or(Expr, Expr)
    case compare(String, Expr, Expr, offset: Int)
    case member(Expr, Expr, offset: Int)  // `x in y`
    case call(String, [Expr], offset: Int)

    var offset: Int {
        switch self {
        case .literal(_, let o), .list(_, let o), .path(_, _, let o), .not(_, let o), .compare(_, _, _, let o),
            .member(_, _, let o), .call(_, _, let o):
            o
        case .and(let l, _), .or(let l, _): l.offset
        }
    }

    /// Dotted name of a path, as shown in evidence.
    var pathName: String? {
        guard case .path(let root, let components, _) = self else { return nil }
        return ([root.rawValue] + components).joined(separator: ".")
    }
}

/// Recursive-descent parser. Precedence from loosest: `||`, `&&`, `!`, comparison and `in`, postfix.
struct Parser {
    var tokens: [LexedToken]
    var index = 0

    static func parse(_ source: String) throws(RuleSyntaxError) -> Expr {
        var parser = Parser(tokens: try Lexer.tokens(source))
        if case .end = parser.peek.token {
            throw RuleSyntaxError(offset: 0, message: "empty condition")
        }
        let expr = try parser.parseOr()
        guard case .end = parser.peek.token else {
            throw RuleSyntaxError(offset: parser.peek.offset, message: "unexpected \(parser.describe(parser.peek.token)) after a complete expression")
        }
        return expr
    }

    var peek: LexedToken { tokens[index] }

    mutating func advance() -> LexedToken {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    func describe(_ token: Token) -> String {
        switch token {
        case .identifier(let s): "'\(s)'"
        case .string(let s): "string \"\(s)\""
        case .number(let n): "number \(n)"
        case .symbol(let s): "'\(s)'"
        case .end: "end of condition"
        }
    }

    mutating func accept(_ symbol: String) -> Bool {
        if case .symbol(symbol) = peek.token {
            _ = advance()
            return true
        }
        return false
    }

    mutating func expect(_ symbol: String) throws(RuleSyntaxError) {
        guard accept(symbol) else {
            throw RuleSyntaxError(offset: peek.offset, message: "expected '\(symbol)' but found \(describe(peek.token))")
        }
    }

    mutating func parseOr() throws(RuleSyntaxError) -> Expr {
        var left = try parseAnd()
        while accept("||") { left = .or(left, try parseAnd()) }
        return left
    }

    mutating func parseAnd() throws(RuleSyntaxError) -> Expr {
        var left = try parseUnary()
        while accept("&&") { left = .and(left, try parseUnary()) }
        return left
    }

    mutating func parseUnary() throws(RuleSyntaxError) -> Expr {
        let offset = peek.offset
        if accept("!") { return .not(try parseUnary(), offset: offset) }
        return try parseComparison()
    }

    mutating func parseComparison() throws(RuleSyntaxError) -> Expr {
        let left = try parsePostfix()
        let offset = peek.offset
        switch peek.token {
        case .symbol(let op) where ["==", "!=", "<", "<=", ">", ">="].contains(op):
            _ = advance()
            return .compare(op, left, try parsePostfix(), offset: offset)
        case .identifier("in"):
            _ = advance()
            return .member(left, try parsePostfix(), offset: offset)
        case .identifier("not"):
            // `x not in y`
            _ = advance()
            guard case .identifier("in") = peek.token else {
                throw RuleSyntaxError(offset: peek.offset, message: "expected 'in' after 'not'")
            }
            _ = advance()
            return .not(.member(left, try parsePostfix(), offset: offset), offset: offset)
        default:
            return left
        }
    }

    mutating func parsePostfix() throws(RuleSyntaxError) -> Expr {
        var expr = try parsePrimary()
        while true {
            if accept(".") {
                let t = advance()
                guard case .identifier(let name) = t.token else {
                    throw RuleSyntaxError(offset: t.offset, message: "expected a field or function name after '.' but found \(describe(t.token))")
                }
                if case .symbol("(") = peek.token {
                    _ = advance()
                    expr = .call(name, [expr] + (try parseArguments()), offset: t.offset)
                } else if case .path(let root, let components, let offset) = expr {
                    expr = .path(root, components + [name], offset: offset)
                } else {
                    throw RuleSyntaxError(offset: t.offset, message: "fields can only be read from action, content, context, agent or input")
                }
            } else if case .symbol("[") = peek.token {
                let open = advance()
                let keyToken = advance()
                let key: String
                switch keyToken.token {
                case .string(let s): key = s
                case .number(let n) where n >= 0 && n == n.rounded(): key = String(Int(n))
                default:
                    throw RuleSyntaxError(offset: keyToken.offset, message: "an index must be a string or a non-negative whole number")
                }
                try expect("]")
                guard case .path(let root, let components, let offset) = expr else {
                    throw RuleSyntaxError(offset: open.offset, message: "only fields of the input can be indexed")
                }
                expr = .path(root, components + [key], offset: offset)
            } else {
                return expr
            }
        }
    }

    mutating func parseArguments() throws(RuleSyntaxError) -> [Expr] {
        var args: [Expr] = []
        if accept(")") { return args }
        repeat { args.append(try parseOr()) } while accept(",")
        try expect(")")
        return args
    }

    mutating func parsePrimary() throws(RuleSyntaxError) -> Expr {
        let t = advance()
        switch t.token {
        case .string(let s): return .literal(.string(s), offset: t.offset)
        case .number(let n): return .literal(.number(n), offset: t.offset)
        case .symbol("("):
            let inner = try parseOr()
            try expect(")")
            return inner
        case .symbol("["):
            var items: [Expr] = []
            if !accept("]") {
                repeat {
                    if case .symbol("]") = peek.token { break }  // trailing comma
                    items.append(try parseOr())
                } while accept(",")
                try expect("]")
            }
            return .list(items, offset: t.offset)
        case .identifier(let name):
            switch name {
            case "true": return .literal(.bool(true), offset: t.offset)
            case "false": return .literal(.bool(false), offset: t.offset)
            case "null": return .literal(.null, offset: t.offset)
            default: break
            }
            if case .symbol("(") = peek.token {
                _ = advance()
                return .call(name, try parseArguments(), offset: t.offset)
            }
            guard let root = InputRoot(rawValue: name) else {
                throw RuleSyntaxError(offset: t.offset, message: "unknown name '\(name)' (conditions read action, content, context, agent or input)")
            }
            return .path(root, [], offset: t.offset)
        default:
            throw RuleSyntaxError(offset: t.offset, message: "expected a value but found \(describe(t.token))")
        }
    }
}
