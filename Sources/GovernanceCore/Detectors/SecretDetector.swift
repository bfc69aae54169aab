/// Finds credentials: provider tokens in their documented formats, PEM private keys, JWTs,
/// secrets assigned to well-known keys (`password=`, `"api_key": "..."`, `DB_PASSWORD=`),
/// passwords in URLs (`postgres://user:pass@host`) and passwords given in a sentence ("the password
/// is Hunter2!x").
///
/// One pass over the bytes: token formats are only tried at word starts whose first byte can
/// begin a token, and assignments only at `=` / `:`. Every span is masked as
/// `[REDACTED:<kind>]`; assignment spans keep their key (`password=[REDACTED:password]`).
///
/// Assigned values that are not secrets are skipped (see `isPlaceholder`): empty values,
/// masks (`***`, `xxxx`), templates (`<password>`, `${PASSWORD}`, `{{token}}`, `%s`),
/// environment references (`$PASSWORD`, `process.env.X`), function calls, already-redacted
/// values, and well-known dummies (`changeme`, `null`, `your_password`, ...). `changeme` is
/// treated as a placeholder because it is a published default, not a secret worth redacting;
/// a rule that wants to forbid default passwords should test for it explicitly.
public enum SecretDetector {
    typealias Ch = DetectorASCII

    public static let kinds: Set<String> = [
        "private_key", "aws_access_key", "aws_secret_key", "github_token", "gitlab_token",
        "slack_token", "stripe_key", "google_api_key", "openai_key", "anthropic_key", "jwt",
        "password", "api_key", "secret", "token", "url_password",
    ]

    /// Scans `text` for secrets. `kinds` limits the scan (nil means all kinds).
    /// Spans are ordered by position and never overlap.
    public static func scan(_ text: String, kinds: Set<String>? = nil) -> [DetectedSpan] {
        ScanBytes.with(text) { scan(bytes: $0, kinds: kinds) }
    }

    static func scan(bytes p: ScanBytes, kinds: Set<String>?) -> [DetectedSpan] {
        var found: [DetectedSpan] = []
        var i = 0
        let n = p.count
        while i < n {
            let b = p[i]
            var match: Match?
            if Ch.isWord(b) {
                // A word start: only a few first bytes can begin a token format; otherwise the
                // whole word is skipped in one tight loop.
                if b == 0x41 || b == 0x67 || b == 0x78 || b == 0x73 || b == 0x72 || b == 0x65 {  // A g x s r e
                    match = token(p, at: i)
                } else if b | 0x20 == 0x70, !Ch.isWord(p.at(i - 1)) {  // p, P: "the password is ..."
                    match = prosePassword(p, at: i)
                }
                if match == nil {
                    i += 1
                    while i < n, Ch.isWord(p[i]) { i += 1 }
                    continue
                }
            } else if b == Ch.equals || b == Ch.colon {
                match = b == Ch.colon && p.at(i + 1) == Ch.slash && p.at(i + 2) == Ch.slash
                    ? urlPassword(p, colon: i)
                    : assignment(p, separator: i)
            } else if b == Ch.dash, p.has("-----BEGIN ", at: i) {
                match = privateKey(p, at: i)
            }
            guard let match else { i += 1; continue }
            if DetectorSupport.wants(kinds, match.kind) {
                found.append(span(p, match))
            }
            i = max(match.range.upperBound, i + 1)
        }
        // A provider format is more specific than the key-based guess around it.
        return DetectorSupport.resolveOverlaps(found) { isGenericAssignment($0.kind) ? 0 : 1 }
    }

    /// A raw finding; `keep` is the prefix of the range shown unmasked (an assignment's key).
    struct Match {
        var kind: String
        var range: Range<Int>
        var keep: Int = 0
    }

    static func span(_ p: ScanBytes, _ m: Match) -> DetectedSpan {
        let redacted = "[REDACTED:" + m.kind + "]"
        let masked = m.keep > 0
            ? p.string(m.range.lowerBound..<(m.range.lowerBound + m.keep)) + redacted
            : redacted
        return DetectedSpan(category: .secret, kind: m.kind, utf8Range: m.range, masked: masked)
    }

    // MARK: - Token formats

    /// A provider token starting at `i` (which is at a word start).
    static func token(_ p: ScanBytes, at i: Int) -> Match? {
        switch p[i] {
        case 0x41:  // A
            if p.has("AKIA", at: i) || p.has("ASIA", at: i) {
                let len = p.run(from: i + 4, limit: 17) { Ch.isUpper($0) || Ch.isDigit($0) }
                if len == 16, !Ch.isAlnum(p.at(i + 20)) { return Match(kind: "aws_access_key", range: i..<(i + 20)) }
            } else if p.has("AIza", at: i) {
                let len = p.run(from: i + 4, limit: 36, while: Ch.isBase64URL)
                if len == 35 { return Match(kind: "google_api_key", range: i..<(i + 39)) }
            }
        case 0x67:  // g
            if p.has("gh", at: i), p.at(i + 3) == Ch.underscore {
                switch p.at(i + 2) {
                case 0x70, 0x6F, 0x75, 0x73, 0x72:  // ghp_ gho_ ghu_ ghs_ ghr_
                    let len = p.run(from: i + 4, limit: 252, while: Ch.isAlnum)
                    if len >= 36, !Ch.isWord(p.at(i + 4 + len)) {
                        return Match(kind: "github_token", range: i..<(i + 4 + len))
                    }
                default:
                    break
                }
            } else if p.has("github_pat_", at: i) {
                let start = i + 11
                if p.run(from: start, limit: 23, while: Ch.isAlnum) == 22, p.at(start + 22) == Ch.underscore,
                   p.run(from: start + 23, limit: 60, while: Ch.isAlnum) == 59, !Ch.isWord(p.at(start + 82)) {
                    return Match(kind: "github_token", range: i..<(start + 82))
                }
            } else if p.has("glpat-", at: i) {
                let len = p.run(from: i + 6, limit: 200, while: Ch.isBase64URL)
                if len >= 20 { return Match(kind: "gitlab_token", range: i..<(i + 6 + len)) }
            }
        case 0x78:  // x
            if p.has("xox", at: i), p.at(i + 4) == Ch.dash {
                switch p.at(i + 3) {
                case 0x62, 0x70, 0x61, 0x72, 0x73:  // xoxb- xoxp- xoxa- xoxr- xoxs-
                    let len = p.run(from: i + 5, limit: 250) { Ch.isAlnum($0) || $0 == Ch.dash }
                    let body = (i + 5)..<(i + 5 + len)
                    if len >= 10, body.contains(where: { Ch.isDigit(p[$0]) }) {
                        return Match(kind: "slack_token", range: i..<body.upperBound)
                    }
                default:
                    break
                }
            }
        case 0x73, 0x72:  // s r
            if p.has("k_live_", at: i + 1) || p.has("k_test_", at: i + 1) {
                let len = p.run(from: i + 8, limit: 250, while: Ch.isAlnum)
                if len >= 24, !Ch.isWord(p.at(i + 8 + len)) {
                    return Match(kind: "stripe_key", range: i..<(i + 8 + len))
                }
            } else if p[i] == 0x73, p.has("k-", at: i + 1) {
                let len = p.run(from: i + 3, limit: 300, while: Ch.isBase64URL)
                let end = i + 3 + len
                if p.has("ant-", at: i + 3) {
                    if len >= 36 { return Match(kind: "anthropic_key", range: i..<end) }
                } else if len >= 40, looksRandom(p, (i + 3)..<end) {
                    // "sk-" and "sk-proj-": random base62 bodies always mix digits and capitals,
                    // which long hyphenated identifiers ("sk-learn-...") do not.
                    return Match(kind: "openai_key", range: i..<end)
                }
            }
        case 0x65:  // e
            return jwt(p, at: i)
        default:
            break
        }
        return nil
    }

    static func looksRandom(_ p: ScanBytes, _ range: Range<Int>) -> Bool {
        var digit = false, upper = false
        for k in range {
            if Ch.isDigit(p[k]) { digit = true } else if Ch.isUpper(p[k]) { upper = true }
            if digit && upper { return true }
        }
        return false
    }

    /// `header.payload.signature`, base64url segments; header and payload are JSON objects,
    /// so both start with `eyJ` (`{"`). The signature may be empty (unsecured JWT).
    static func jwt(_ p: ScanBytes, at i: Int) -> Match? {
        guard p.has("eyJ", at: i) else { return nil }
        let header = p.run(from: i, while: Ch.isBase64URL)
        var j = i + header
        guard header >= 10, p.at(j) == Ch.dot, p.has("eyJ", at: j + 1) else { return nil }
        let payload = p.run(from: j + 1, while: Ch.isBase64URL)
        j += 1 + payload
        guard payload >= 10, p.at(j) == Ch.dot else { return nil }
        j += 1 + p.run(from: j + 1, while: Ch.isBase64URL)
        return Match(kind: "jwt", range: i..<j)
    }

    /// `-----BEGIN <label> PRIVATE KEY-----` through the matching END line. A key without its
    /// END line (truncated paste) is redacted to the end of the text.
    static func privateKey(_ p: ScanBytes, at i: Int) -> Match? {
        let labelStart = i + 11
        let labelLength = p.run(from: labelStart, limit: 48) { Ch.isUpper($0) || $0 == Ch.space }
        let label = labelStart..<(labelStart + labelLength)
        guard p.has("-----", at: label.upperBound),
              p.endsWithCI(label, "private key") || p.endsWithCI(label, "private key block")
        else { return nil }
        var j = label.upperBound + 5
        while j < p.count {
            if p[j] == Ch.dash, p.has("-----END ", at: j) {
                let endLabel = p.run(from: j + 9, limit: 48) { Ch.isUpper($0) || $0 == Ch.space }
                let close = j + 9 + endLabel
                if p.has("-----", at: close) { return Match(kind: "private_key", range: i..<(close + 5)) }
            }
            j += 1
        }
        return Match(kind: "private_key", range: i..<p.count)
    }

    // MARK: - Assignments

    /// `key = value`, `key: value`, `"key": "value"`, `key := value` where the key names a
    /// credential. The span runs from the key to the end of the value.
    static func assignment(_ p: ScanBytes, separator s: Int) -> Match? {
        let sepByte = p[s]
        var valueStart = s + 1
        if sepByte == Ch.equals {
            // Comparisons and arrows are not assignments.
            let prev = p.at(s - 1)
            if prev == Ch.equals || prev == Ch.bang || prev == Ch.lt || prev == Ch.gt || prev == Ch.colon { return nil }
            if p.at(s + 1) == Ch.equals || p.at(s + 1) == Ch.gt { return nil }
        } else {
            if p.at(s + 1) == Ch.colon || p.at(s - 1) == Ch.colon { return nil }
            if p.at(s + 1) == Ch.equals { valueStart += 1 }  // Go's :=
        }

        // Key: identifier (letters, digits, _ - .) before optional quote and blanks.
        var k = s - 1
        while k >= 0, Ch.isBlank(p[k]) { k -= 1 }
        var quotedKey = false
        if k >= 0, p[k] == Ch.quote || p[k] == Ch.apostrophe {
            quotedKey = true
            k -= 1
        }
        let keyEnd = k + 1
        while k >= 0, keyEnd - k <= 64, Ch.isWord(p[k]) || p[k] == Ch.dash || p[k] == Ch.dot { k -= 1 }
        let keyStart = k + 1
        let key = keyStart..<keyEnd
        guard !key.isEmpty, Ch.isAlnum(p[keyEnd - 1]), !Ch.isWord(p.at(keyStart - 1)),
              var kind = credentialKind(p, key) else { return nil }

        // With ':' the key must look like a field (quoted, or first on its line / in a list),
        // so prose such as "a note on password: it must..." is left alone.
        if sepByte == Ch.colon, valueStart == s + 1, !quotedKey, !startsField(p, keyStart) { return nil }

        // Value: quoted up to the closing quote on the same line, else up to a delimiter.
        var v = valueStart
        while v < p.count, Ch.isBlank(p[v]) { v += 1 }
        let value: Range<Int>
        let q = p.at(v)
        if q == Ch.quote || q == Ch.apostrophe || q == Ch.backtick {
            var e = v + 1
            while e < p.count, e - v <= 512, p[e] != q, p[e] != Ch.newline { e += 1 }
            guard p.at(e) == q else { return nil }
            value = (v + 1)..<e
        } else {
            let len = p.run(from: v, limit: 512) { b in
                !(Ch.isWhitespace(b) || b == Ch.quote || b == Ch.apostrophe || b == Ch.backtick || b == Ch.comma
                    || b == Ch.semicolon || b == Ch.amp || b == Ch.rparen || b == Ch.rbrace || b == Ch.rbracket)
            }
            value = v..<(v + len)
        }
        guard !isPlaceholder(p, value) else { return nil }

        // A recognisable token as the value is reported as that token; the key stays visible.
        if let t = token(p, at: value.lowerBound) { return t }

        if kind == "aws_secret_key",
           !(value.count == 40 && value.allSatisfy({ Ch.isAlnum(p[$0]) || p[$0] == Ch.slash || p[$0] == Ch.plus })) {
            kind = "secret"
        }
        return Match(kind: kind, range: keyStart..<value.upperBound, keep: value.lowerBound - keyStart)
    }

    // MARK: - Passwords in prose

    /// "the password is Hunter2!x", "the staging db passcode was 48213377": a password word, up to four
    /// words, `is` or `was`, then a value that looks like a password (six or more characters, with a
    /// digit or a symbol, or all digits), so that "the password is incorrect" or "the password is at
    /// least 12 characters" are left alone. The span keeps the words and masks the value.
    static func prosePassword(_ p: ScanBytes, at i: Int) -> Match? {
        let wordEnd = i + p.run(from: i, limit: 11, while: Ch.isAlnum)
        let word = i..<wordEnd
        guard p.equalsCI(word, "password") || p.equalsCI(word, "passwd") || p.equalsCI(word, "passcode")
            || p.equalsCI(word, "passphrase") || p.equalsCI(word, "passwords")
        else { return nil }
        var j = wordEnd
        var connective = false
        for _ in 0..<5 {
            let blanks = p.run(from: j, limit: 8, while: Ch.isBlank)
            guard blanks > 0 else { return nil }
            let start = j + blanks
            let end = start + p.run(from: start, limit: 32) { Ch.isWord($0) || $0 == Ch.dash || $0 == Ch.apostrophe }
            guard end > start else { return nil }
            j = end
            if p.equalsCI(start..<end, "is") || p.equalsCI(start..<end, "was") || p.equalsCI(start..<end, "are") {
                connective = true
                break
            }
        }
        guard connective else { return nil }
        if p.at(j) == Ch.colon { j += 1 }
        var v = j + p.run(from: j, limit: 8, while: Ch.isBlank)
        guard v > j || p.at(j - 1) == Ch.colon else { return nil }
        if p.at(v) == Ch.quote || p.at(v) == Ch.apostrophe || p.at(v) == Ch.backtick { v += 1 }
        var end = v + p.run(from: v, limit: 128) { !Ch.isWhitespace($0) && $0 != Ch.quote && $0 != Ch.apostrophe && $0 != Ch.backtick }
        // Sentence punctuation after the value is not part of it.
        while end > v, [Ch.dot, Ch.comma, Ch.semicolon, Ch.colon, Ch.rparen].contains(p[end - 1]) { end -= 1 }
        let value = v..<end
        guard value.count >= 6, !isPlaceholder(p, value) else { return nil }
        let allDigits = value.allSatisfy { Ch.isDigit(p[$0]) }
        let hasLetter = value.contains { Ch.isAlpha(p[$0]) }
        let hasDigitOrSymbol = value.contains { k in
            let b = p[k]
            return Ch.isDigit(b) || (b > 0x20 && b < 0x7F && !Ch.isAlnum(b) && b != Ch.dash)
        }
        guard allDigits || (hasLetter && hasDigitOrSymbol) else { return nil }
        return Match(kind: "password", range: i..<value.upperBound, keep: value.lowerBound - i)
    }

    /// Which credential a key names, judged by its ending (case-insensitive):
    /// `DB_PASSWORD`, `client_secret`, `x-api-key`, `GITHUB_TOKEN`. Suffix matching keeps
    /// `max_tokens`, `token_type` or `password_policy` out.
    static func credentialKind(_ p: ScanBytes, _ key: Range<Int>) -> String? {
        if p.endsWithCI(key, "secret_access_key") || p.endsWithCI(key, "aws_secret_key") { return "aws_secret_key" }
        if p.endsWithCI(key, "password") || p.endsWithCI(key, "passwd") || p.endsWithCI(key, "passphrase")
            || p.endsWithCI(key, "pwd") { return "password" }
        if p.equalsCI(key, "pass") || p.endsWithCI(key, "_pass") || p.endsWithCI(key, "-pass")
            || p.endsWithCI(key, ".pass") { return "password" }
        if p.endsWithCI(key, "api_key") || p.endsWithCI(key, "apikey") || p.endsWithCI(key, "api-key") { return "api_key" }
        if p.endsWithCI(key, "secret") || p.endsWithCI(key, "secret_key") || p.endsWithCI(key, "secret-key")
            || p.endsWithCI(key, "secretkey") { return "secret" }
        if p.endsWithCI(key, "token") { return "token" }
        return nil
    }

    /// Whether the key at `i` starts a field: only blanks, `{`, `,`, `[` or a list dash separate
    /// it from the start of its line, or it opens a quoted string (`-H 'X-API-Key: ...'`).
    static func startsField(_ p: ScanBytes, _ i: Int) -> Bool {
        let before = p.at(i - 1)
        if before == Ch.quote || before == Ch.apostrophe { return true }
        var k = i - 1
        while k >= 0 {
            let b = p[k]
            if b == Ch.newline { return true }
            if !(Ch.isBlank(b) || b == Ch.lbrace || b == Ch.comma || b == Ch.lbracket || b == Ch.dash) { return false }
            k -= 1
        }
        return true
    }

    /// Well-known dummy values (compared case-insensitively).
    static let dummyValues: [StaticString] = [
        "changeme", "change_me", "change-me", "null", "nil", "none", "undefined", "true", "false",
        "empty", "example", "placeholder", "redacted", "password", "secret", "token", "required",
    ]

    /// Values that are evidently not real secrets (see the type documentation).
    static func isPlaceholder(_ p: ScanBytes, _ v: Range<Int>) -> Bool {
        guard let first = v.first.map({ p[$0] }) else { return true }
        // Masks: "***", "xxxx", "...", "----".
        if v.allSatisfy({ k in
            let b = p[k]
            return b == Ch.star || b == 0x78 || b == 0x58 || b == Ch.dot || b == Ch.hash || b == Ch.dash
                || b == Ch.underscore || b == Ch.question
        }) { return true }
        // Templates: <password>, {password}, {{ token }}, ${PASSWORD}, $(cmd), %(name)s, %s.
        if first == Ch.lt || first == Ch.lbrace || first == Ch.percent { return true }
        if first == Ch.dollar, Ch.isWord(p.at(v.lowerBound + 1)) || p.at(v.lowerBound + 1) == Ch.lbrace
            || p.at(v.lowerBound + 1) == Ch.lparen { return true }
        // Already redacted, code references and calls.
        if first == Ch.lbracket, p.hasCI("[redacted", at: v.lowerBound) { return true }
        if p.hasCI("process.env", at: v.lowerBound) || p.hasCI("os.environ", at: v.lowerBound)
            || p.hasCI("os.getenv", at: v.lowerBound) { return true }
        if v.contains(where: { p[$0] == Ch.lparen }) { return true }
        for d in dummyValues where p.equalsCI(v, d) { return true }
        if p.hasCI("your_", at: v.lowerBound) || p.hasCI("your-", at: v.lowerBound)
            || p.equalsCI(v, "yourpassword") { return true }
        return false
    }

    // MARK: - URL credentials

    /// The password in `scheme://user:password@host`. Only the password is redacted.
    static func urlPassword(_ p: ScanBytes, colon: Int) -> Match? {
        var k = colon
        while k > 0, colon - k < 32, Ch.isAlnum(p[k - 1]) || p[k - 1] == Ch.plus || p[k - 1] == Ch.dot
            || p[k - 1] == Ch.dash { k -= 1 }
        guard k < colon, Ch.isAlpha(p[k]) else { return nil }
        var j = colon + 3
        // User: up to ':'; stops at anything that ends the authority.
        while j < p.count, !isAuthorityEnd(p[j]), p[j] != Ch.colon, p[j] != Ch.at { j += 1 }
        guard p.at(j) == Ch.colon else { return nil }
        let passwordStart = j + 1
        j = passwordStart
        while j < p.count, !isAuthorityEnd(p[j]), p[j] != Ch.at { j += 1 }
        guard p.at(j) == Ch.at else { return nil }
        let password = passwordStart..<j
        guard !isPlaceholder(p, password) else { return nil }
        return Match(kind: "url_password", range: password)
    }

    /// Kinds produced by key-based assignment detection.
    static func isGenericAssignment(_ kind: String) -> Bool {
        kind == "password" || kind == "api_key" || kind == "secret" || kind == "token"
    }

    @inline(__always)
    static func isAuthorityEnd(_ b: UInt8) -> Bool {
        Ch.isWhitespace(b) || b == Ch.slash || b == Ch.question || b == Ch.hash || b == Ch.quote || b == Ch.apostrophe
            || b == Ch.lt || b == Ch.gt
    }
}
