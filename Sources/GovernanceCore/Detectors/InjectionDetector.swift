/// Finds prompt-injection markers: attempts to cancel earlier instructions, to extract the
/// system prompt, to switch the model into an "unrestricted" persona, fake chat-template or
/// role markers, and announcements of new or overriding instructions.
///
/// Matching works on ASCII words (letters, digits, inner apostrophes), case-insensitively, so
/// punctuation, hyphens and extra spaces between words do not matter. Each phrase starts at a
/// trigger verb and allows a few filler words before its object (`please ignore all of the
/// previous instructions`), but never crosses a sentence end (`.`, `!`, `?`, newline).
/// Negated verbs ("do not ignore the previous instructions") are not reported. Whole words
/// only: "ignored", "ignoreable" and "the previous version ignored a warning" do not match.
///
/// Injection spans are not secret, so `masked` is the matched text itself.
public enum InjectionDetector {
    typealias Ch = DetectorASCII

    public static let kinds: Set<String> = [
        "ignore_instructions", "reveal_system_prompt", "role_hijack", "template_injection", "override",
    ]

    /// Scans `text` for injection markers. `kinds` limits the scan (nil means all kinds).
    /// Spans are ordered by position and never overlap.
    public static func scan(_ text: String, kinds: Set<String>? = nil) -> [DetectedSpan] {
        ScanBytes.with(text) { scan(bytes: $0, kinds: kinds) }
    }

    struct Match {
        var kind: String
        var range: Range<Int>
    }

    static func scan(bytes p: ScanBytes, kinds: Set<String>?) -> [DetectedSpan] {
        var found: [DetectedSpan] = []
        var prev1: Range<Int>?
        var prev2: Range<Int>?
        var i = 0
        while i < p.count {
            let b = p[i]
            var match: Match?
            if Ch.isAlnum(b) {
                let word = i..<wordEnd(p, i)
                // Most words cannot start a phrase: a table lookup by first letter and length
                // rejects them without a call.
                if word.count < 16, triggerLengths(Ch.lower(b)) & (1 << word.count) != 0 {
                    match = matchWord(p, word, prev1, prev2)
                }
                if match == nil {
                    prev2 = prev1
                    prev1 = word
                    i = word.upperBound
                    continue
                }
            } else if b == Ch.lt || b == Ch.lbracket || b == Ch.hash {
                match = template(p, at: i)
            } else if isSentenceEnd(b) {
                prev1 = nil
                prev2 = nil
            }
            guard let match else { i += 1; continue }
            if DetectorSupport.wants(kinds, match.kind) {
                found.append(DetectedSpan(category: .injection, kind: match.kind, utf8Range: match.range,
                                          masked: p.string(match.range)))
            }
            i = max(match.range.upperBound, i + 1)
            prev1 = nil
            prev2 = nil
        }
        return found
    }

    // MARK: - Words

    @inline(__always)
    static func wordEnd(_ p: ScanBytes, _ i: Int) -> Int {
        var e = i + 1
        while e < p.count {
            let b = p[e]
            if Ch.isAlnum(b) || (b == Ch.apostrophe && Ch.isAlpha(p.at(e + 1))) { e += 1 } else { break }
        }
        return e
    }

    @inline(__always)
    static func isSentenceEnd(_ b: UInt8) -> Bool {
        b == Ch.dot || b == Ch.bang || b == Ch.question || b == Ch.newline
    }

    /// The next word at or after `i` within the current sentence.
    static func nextWord(_ p: ScanBytes, _ i: Int) -> Range<Int>? {
        var k = i
        while k < p.count {
            let b = p[k]
            if Ch.isAlnum(b) { return k..<wordEnd(p, k) }
            if isSentenceEnd(b) { return nil }
            k += 1
        }
        return nil
    }

    @inline(__always)
    static func isAny(_ p: ScanBytes, _ w: Range<Int>, _ words: [StaticString]) -> Bool {
        for candidate in words where p.equalsCI(w, candidate) { return true }
        return false
    }

    static func isAny(_ p: ScanBytes, _ w: Range<Int>?, _ words: [StaticString]) -> Bool {
        guard let w else { return false }
        return isAny(p, w, words)
    }

    // MARK: - Vocabulary

    static let negations: [StaticString] = [
        "not", "never", "dont", "don't", "didn't", "doesn't", "shouldn't", "won't", "cannot", "can't",
        "mustn't", "t",  // "t" is what "don’t" leaves after a typographic apostrophe
    ]
    /// Objects of "ignore ...": what an injection wants cancelled.
    static let instructionNouns: [StaticString] = [
        "instructions", "instruction", "rules", "guidelines", "prompts", "prompt", "directives",
        "directions", "commands", "constraints", "restrictions", "guardrails", "programming",
        "context", "orders", "policies", "safeguards", "filters", "guidance", "ethics",
    ]
    /// Words that make "ignore ... instructions" point at the existing instructions.
    static let qualifiers: [StaticString] = [
        "previous", "prior", "above", "earlier", "preceding", "all", "any", "every", "your",
        "initial", "original", "old", "former", "existing", "system", "given", "foregoing",
        "safety", "content", "default", "developer",
    ]
    /// Function words that may sit inside a phrase without counting as filler.
    static let lightWords: [StaticString] = [
        "the", "of", "a", "an", "to", "that", "this", "these", "those", "my", "our", "please",
        "and", "or", "about", "in", "on", "from", "with", "just", "now", "me", "us", "for",
    ]
    static let everythingWords: [StaticString] = ["everything", "anything", "what", "whatever"]
    static let toldVerbs: [StaticString] = [
        "told", "said", "instructed", "given", "taught", "learned", "learnt", "programmed", "shown",
    ]
    static let timeAdverbs: [StaticString] = ["before", "previously", "earlier", "above", "prior"]
    static let clauseLinks: [StaticString] = ["and", "then", "instead", "now"]

    static let revealAdjectives: [StaticString] = [
        "system", "hidden", "secret", "initial", "original", "internal", "developer",
        "confidential", "underlying", "pre", "preprompt",
    ]
    static let revealNouns: [StaticString] = [
        "prompt", "prompts", "instructions", "instruction", "rules", "guidelines", "directives",
        "preprompt",
    ]
    /// With a bare "your", only these nouns point at the model's own instructions.
    static let yourNouns: [StaticString] = ["prompt", "prompts", "instructions", "instruction", "preprompt"]
    static let revealFillers: [StaticString] = [
        "exact", "exactly", "full", "entire", "complete", "verbatim", "word", "back", "all",
        "current", "actual", "whole",
    ]

    static let hijackTargets: [StaticString] = [
        "dan", "unrestricted", "uncensored", "unfiltered", "jailbroken", "unlimited", "amoral",
        "unaligned", "unchained",
    ]
    static let modeNames: [StaticString] = ["developer", "god", "dan", "jailbreak", "unrestricted"]
    static let modeOnWords: [StaticString] = ["enabled", "activated", "on", "engaged", "active", "unlocked"]
    static let modeVerbs: [StaticString] = ["enable", "activate", "enter", "entering", "enabling", "activating", "unlock"]
    static let agentNouns: [StaticString] = ["ai", "assistant", "model", "chatbot", "bot", "llm", "version", "mode"]
    static let overrideAuthorities: [StaticString] = [
        "system", "admin", "administrator", "developer", "root", "emergency",
    ]
    static let newObjects: [StaticString] = ["instructions", "instruction", "rules", "directives", "orders"]

    // MARK: - Phrases

    /// Bit n is set when some trigger word of length n starts with `c` (lower-case); must
    /// agree with `matchWord`.
    @inline(__always)
    static func triggerLengths(_ c: UInt8) -> UInt16 {
        switch c {
        case 0x61: 1 << 3                                  // act
        case 0x62: 1 << 6                                  // bypass, behave
        case 0x64: 1 << 9 | 1 << 7 | 1 << 4 | 1 << 2       // disregard, display, dump, do
        case 0x65: 1 << 6                                  // expose
        case 0x66: 1 << 6                                  // forget
        case 0x67: 1 << 4                                  // give
        case 0x69: 1 << 6                                  // ignore
        case 0x6A: 1 << 9 | 1 << 10                        // jailbreak, jailbroken
        case 0x6C: 1 << 4                                  // leak
        case 0x6D: 1 << 4                                  // mode
        case 0x6E: 1 << 3                                  // new
        case 0x6F: 1 << 8 | 1 << 6                         // override, output
        case 0x70: 1 << 5 | 1 << 7                         // print, pretend
        case 0x72: 1 << 6 | 1 << 8                         // reveal, repeat, recite, roleplay
        case 0x73: 1 << 4 | 1 << 5                         // show, share
        case 0x74: 1 << 4                                  // tell
        case 0x75: 1 << 7                                  // updated
        case 0x77: 1 << 5 | 1 << 4 | 1 << 6                // write, what, what's
        case 0x79: 1 << 3 | 1 << 6                         // you, you're
        default: 0
        }
    }

    static func matchWord(_ p: ScanBytes, _ w: Range<Int>, _ prev1: Range<Int>?, _ prev2: Range<Int>?) -> Match? {
        guard w.count >= 2, w.count <= 10 else { return nil }
        let after = w.upperBound
        switch Ch.lower(p[w.lowerBound]) {
        case 0x69:  // i
            if p.equalsCI(w, "ignore") { return ignorePhrase(p, verb: w, prev1) }
        case 0x64:  // d
            if p.equalsCI(w, "disregard") { return ignorePhrase(p, verb: w, prev1) }
            if p.equalsCI(w, "display") || p.equalsCI(w, "dump") { return revealPhrase(p, start: w.lowerBound, from: after) }
            if p.equalsCI(w, "do"), let a = nextWord(p, after), p.equalsCI(a, "anything"),
               let now = nextWord(p, a.upperBound), p.equalsCI(now, "now") {
                return Match(kind: "role_hijack", range: w.lowerBound..<now.upperBound)
            }
        case 0x66:  // f
            if p.equalsCI(w, "forget") { return ignorePhrase(p, verb: w, prev1) }
        case 0x62:  // b
            if p.equalsCI(w, "bypass") { return ignorePhrase(p, verb: w, prev1) }
            if p.equalsCI(w, "behave") { return personaAfter(p, start: w.lowerBound, from: after, link: ["as", "like"]) }
        case 0x6F:  // o
            if p.equalsCI(w, "override") {
                if let a = prev1, isAny(p, a, overrideAuthorities) {
                    return Match(kind: "override", range: a.lowerBound..<w.upperBound)
                }
                return ignorePhrase(p, verb: w, prev1)
            }
            if p.equalsCI(w, "output") { return revealPhrase(p, start: w.lowerBound, from: after) }
        case 0x70:  // p
            if p.equalsCI(w, "print") { return revealPhrase(p, start: w.lowerBound, from: after) }
            if p.equalsCI(w, "pretend") { return pretend(p, w) }
        case 0x72:  // r
            if p.equalsCI(w, "reveal") || p.equalsCI(w, "repeat") || p.equalsCI(w, "recite") {
                return revealPhrase(p, start: w.lowerBound, from: after)
            }
            if p.equalsCI(w, "roleplay") { return personaAfter(p, start: w.lowerBound, from: after, link: ["as"]) }
        case 0x73:  // s
            if p.equalsCI(w, "show") || p.equalsCI(w, "share") { return revealPhrase(p, start: w.lowerBound, from: after) }
        case 0x74:  // t
            if p.equalsCI(w, "tell") { return revealPhrase(p, start: w.lowerBound, from: after) }
        case 0x6C:  // l
            if p.equalsCI(w, "leak") { return revealPhrase(p, start: w.lowerBound, from: after) }
        case 0x65:  // e
            if p.equalsCI(w, "expose") { return revealPhrase(p, start: w.lowerBound, from: after) }
        case 0x67:  // g
            if p.equalsCI(w, "give") { return revealPhrase(p, start: w.lowerBound, from: after) }
        case 0x77:  // w
            if p.equalsCI(w, "write") || p.equalsCI(w, "what's") { return revealPhrase(p, start: w.lowerBound, from: after) }
            if p.equalsCI(w, "what"), let verb = nextWord(p, after), isAny(p, verb, ["is", "are", "was", "were"]) {
                return revealPhrase(p, start: w.lowerBound, from: verb.upperBound)
            }
        case 0x6E, 0x75:  // n u
            if p.equalsCI(w, "new") || p.equalsCI(w, "updated") { return newInstructions(p, w) }
        case 0x61:  // a
            if p.equalsCI(w, "act") { return personaAfter(p, start: w.lowerBound, from: after, link: ["as", "like"]) }
        case 0x79:  // y
            if p.equalsCI(w, "you") || p.equalsCI(w, "you're") { return youAreNow(p, w, prev1, prev2) }
        case 0x6A:  // j
            if p.equalsCI(w, "jailbreak") || p.equalsCI(w, "jailbroken") { return Match(kind: "role_hijack", range: w) }
        case 0x6D:  // m
            if p.equalsCI(w, "mode") { return modeSwitch(p, w, prev1, prev2) }
        default:
            break
        }
        return nil
    }

    /// ignore/disregard/forget/override/bypass + [fillers] + qualifier + instructions, or
    /// + everything/what ... told [before], or + ... above (at the end of a clause).
    static func ignorePhrase(_ p: ScanBytes, verb: Range<Int>, _ prev1: Range<Int>?) -> Match? {
        if isAny(p, prev1, negations) { return nil }
        var pos = verb.upperBound
        var qualified = false
        var everything = false
        var light = 0
        var heavy = 0
        for _ in 0..<12 {
            guard let w = nextWord(p, pos) else { return nil }
            pos = w.upperBound
            if isAny(p, w, instructionNouns) {
                return qualified ? Match(kind: "ignore_instructions", range: verb.lowerBound..<w.upperBound) : nil
            }
            if isAny(p, w, qualifiers) {
                qualified = true
                if p.equalsCI(w, "all") { everything = true }
                if p.equalsCI(w, "above"), heavy == 0, endsClause(p, w.upperBound) {
                    return Match(kind: "ignore_instructions", range: verb.lowerBound..<w.upperBound)
                }
            } else if isAny(p, w, everythingWords) {
                everything = true
            } else if everything, isAny(p, w, toldVerbs) {
                var end = w.upperBound
                if let t = nextWord(p, end), isAny(p, t, timeAdverbs) { end = t.upperBound }
                return Match(kind: "ignore_instructions", range: verb.lowerBound..<end)
            } else if isAny(p, w, lightWords) {
                light += 1
                if light > 4 { return nil }
            } else {
                heavy += 1
                if heavy > 3 { return nil }
            }
        }
        return nil
    }

    /// Whether a clause ends at `i`: punctuation, end of text, or a linking word ("and", "then").
    static func endsClause(_ p: ScanBytes, _ i: Int) -> Bool {
        var k = i
        while k < p.count, Ch.isBlank(p[k]) { k += 1 }
        guard k < p.count, Ch.isAlnum(p[k]) else { return true }
        return isAny(p, k..<wordEnd(p, k), clauseLinks)
    }

    /// reveal/print/show/... + [fillers] + (system|hidden|initial|...) prompt/instructions,
    /// or + your prompt/instructions.
    static func revealPhrase(_ p: ScanBytes, start: Int, from: Int) -> Match? {
        var pos = from
        var strong = false
        var yours = false
        var heavy = 0
        for _ in 0..<10 {
            guard let w = nextWord(p, pos) else { return nil }
            pos = w.upperBound
            if isAny(p, w, revealNouns) {
                if strong || (yours && isAny(p, w, yourNouns)) {
                    return Match(kind: "reveal_system_prompt", range: start..<w.upperBound)
                }
                return nil
            }
            if isAny(p, w, revealAdjectives) {
                strong = true
            } else if p.equalsCI(w, "your") {
                yours = true
            } else if !(isAny(p, w, lightWords) || isAny(p, w, revealFillers)) {
                heavy += 1
                if heavy > 2 { return nil }
            }
        }
        return nil
    }

    /// (act|behave|roleplay) (as|like) ... <unrestricted persona>.
    static func personaAfter(_ p: ScanBytes, start: Int, from: Int, link: [StaticString]) -> Match? {
        guard let l = nextWord(p, from), isAny(p, l, link) else { return nil }
        return persona(p, start: start, from: l.upperBound)
    }

    /// pretend (to be | you are | you're) ... <persona>, or pretend [that] the <qualified> rules do
    /// not / no longer apply (or exist).
    static func pretend(_ p: ScanBytes, _ w: Range<Int>) -> Match? {
        if let cancelled = rulesDoNotApply(p, start: w.lowerBound, from: w.upperBound) { return cancelled }
        guard let a = nextWord(p, w.upperBound) else { return nil }
        if p.equalsCI(a, "you're") { return persona(p, start: w.lowerBound, from: a.upperBound) }
        guard let b = nextWord(p, a.upperBound) else { return nil }
        if (p.equalsCI(a, "to") && p.equalsCI(b, "be")) || (p.equalsCI(a, "you") && p.equalsCI(b, "are")) {
            return persona(p, start: w.lowerBound, from: b.upperBound)
        }
        return nil
    }

    /// [that] [the|your|all] <qualifier>... <instructions> (do not|don't|no longer) (apply|exist).
    static func rulesDoNotApply(_ p: ScanBytes, start: Int, from: Int) -> Match? {
        var pos = from
        var qualified = false
        var noun: Range<Int>?
        for _ in 0..<5 {
            guard let w = nextWord(p, pos) else { return nil }
            pos = w.upperBound
            if isAny(p, w, instructionNouns) { noun = w; break }
            if isAny(p, w, qualifiers) { qualified = true } else if !isAny(p, w, ["that", "the", "there", "are", "no"]) { return nil }
        }
        guard let noun, qualified else { return nil }
        pos = noun.upperBound
        var negated = false
        for _ in 0..<3 {
            guard let w = nextWord(p, pos) else { return nil }
            pos = w.upperBound
            if isAny(p, w, ["apply", "exist", "matter", "count"]) {
                return negated ? Match(kind: "ignore_instructions", range: start..<w.upperBound) : nil
            }
            if isAny(p, w, negations) || isAny(p, w, ["no", "longer"]) {
                negated = true
            } else if !isAny(p, w, ["do", "does", "don"]) {
                return nil
            }
        }
        return nil
    }

    /// "you are now <persona>", "you're now <persona>", "from now on you are <persona>", and
    /// "from now on you [only] obey ..." (an override of whoever instructed the agent before).
    static func youAreNow(_ p: ScanBytes, _ w: Range<Int>, _ prev1: Range<Int>?, _ prev2: Range<Int>?) -> Match? {
        var pos = w.upperBound
        let fromNowOn = isAny(p, prev1, ["on"]) && isAny(p, prev2, ["now"])
        if fromNowOn, p.equalsCI(w, "you"), var verb = nextWord(p, pos) {
            if p.equalsCI(verb, "only"), let next = nextWord(p, verb.upperBound) { verb = next }
            if isAny(p, verb, ["obey", "obeys"]) { return Match(kind: "override", range: w.lowerBound..<verb.upperBound) }
        }
        if p.equalsCI(w, "you") {
            guard let are = nextWord(p, pos), p.equalsCI(are, "are") || p.equalsCI(are, "re") else { return nil }
            pos = are.upperBound
        }
        if let now = nextWord(p, pos), p.equalsCI(now, "now") {
            return persona(p, start: w.lowerBound, from: now.upperBound)
        }
        // "from now on, you are ..."
        if fromNowOn { return persona(p, start: w.lowerBound, from: pos) }
        return nil
    }

    /// Within a few words: an unrestricted persona ("DAN", "an uncensored AI", "developer mode").
    static func persona(_ p: ScanBytes, start: Int, from: Int) -> Match? {
        var pos = from
        var heavy = 0
        for _ in 0..<6 {
            guard let w = nextWord(p, pos) else { return nil }
            pos = w.upperBound
            if isAny(p, w, modeNames), let mode = nextWord(p, pos), p.equalsCI(mode, "mode") {
                return Match(kind: "role_hijack", range: start..<mode.upperBound)
            }
            if isAny(p, w, hijackTargets) {
                var end = w.upperBound
                if let noun = nextWord(p, end), isAny(p, noun, agentNouns) { end = noun.upperBound }
                return Match(kind: "role_hijack", range: start..<end)
            }
            if !isAny(p, w, lightWords) {
                heavy += 1
                if heavy > 2 { return nil }
            }
        }
        return nil
    }

    /// "developer mode enabled", "enable developer mode", "god mode activated".
    static func modeSwitch(_ p: ScanBytes, _ w: Range<Int>, _ prev1: Range<Int>?, _ prev2: Range<Int>?) -> Match? {
        guard let name = prev1, isAny(p, name, modeNames) else { return nil }
        if let on = nextWord(p, w.upperBound), isAny(p, on, modeOnWords) {
            return Match(kind: "role_hijack", range: name.lowerBound..<on.upperBound)
        }
        if let verb = prev2, isAny(p, verb, modeVerbs) {
            return Match(kind: "role_hijack", range: verb.lowerBound..<w.upperBound)
        }
        return nil
    }

    /// "new instructions:", "updated rules -", "new system prompt".
    static func newInstructions(_ p: ScanBytes, _ w: Range<Int>) -> Match? {
        guard let object = nextWord(p, w.upperBound) else { return nil }
        if isAny(p, object, newObjects) {
            var k = object.upperBound
            while k < p.count, Ch.isBlank(p[k]) { k += 1 }
            guard p.at(k) == Ch.colon || p.at(k) == Ch.dash else { return nil }
            return Match(kind: "override", range: w.lowerBound..<(k + 1))
        }
        if p.equalsCI(object, "system"), let noun = nextWord(p, object.upperBound),
           isAny(p, noun, ["prompt", "instructions", "message"]) {
            return Match(kind: "override", range: w.lowerBound..<noun.upperBound)
        }
        return nil
    }

    // MARK: - Chat-template markers

    static let templateRoles: [StaticString] = ["system", "user", "assistant"]
    static let headingRoles: [StaticString] = [
        "system", "instruction", "instructions", "assistant", "user", "human", "response",
    ]

    /// `<|im_start|>system`, `<|system|>`, `<|endoftext|>`, `[INST]`, `[/INST]`, `<<SYS>>`,
    /// `</s>`, `### System:`.
    static func template(_ p: ScanBytes, at i: Int) -> Match? {
        switch p[i] {
        case Ch.lt:
            if p.at(i + 1) == Ch.pipe {
                let len = p.run(from: i + 2, limit: 33, while: Ch.isWord)
                guard len >= 1, len <= 32, p.at(i + 2 + len) == Ch.pipe, p.at(i + 3 + len) == Ch.gt else { return nil }
                var end = i + 4 + len
                // A role name glued to the marker belongs to it: <|im_start|>system
                if Ch.isAlpha(p.at(end)) {
                    let role = end..<wordEnd(p, end)
                    if isAny(p, role, templateRoles) { end = role.upperBound }
                }
                return Match(kind: "template_injection", range: i..<end)
            }
            for marker: StaticString in ["</s>", "<<sys>>", "<</sys>>"] where p.hasCI(marker, at: i) {
                return Match(kind: "template_injection", range: i..<(i + marker.utf8CodeUnitCount))
            }
        case Ch.lbracket:
            for marker: StaticString in ["[inst]", "[/inst]"] where p.hasCI(marker, at: i) {
                return Match(kind: "template_injection", range: i..<(i + marker.utf8CodeUnitCount))
            }
        case Ch.hash:
            guard p.at(i - 1) != Ch.hash else { return nil }
            let hashes = p.run(from: i, limit: 7) { $0 == Ch.hash }
            guard hashes >= 2, hashes <= 6 else { return nil }
            var k = i + hashes
            while k < p.count, Ch.isBlank(p[k]) { k += 1 }
            guard Ch.isAlpha(p.at(k)) else { return nil }
            let role = k..<wordEnd(p, k)
            guard isAny(p, role, headingRoles) else { return nil }
            k = role.upperBound
            while k < p.count, Ch.isBlank(p[k]) { k += 1 }
            guard p.at(k) == Ch.colon else { return nil }
            return Match(kind: "template_injection", range: i..<(k + 1))
        default:
            break
        }
        return nil
    }
}
