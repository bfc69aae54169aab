import Testing

@testable import GovernanceCore

@Suite("Constitution loading and identity")
struct ConstitutionTests {
    static let yaml = """
        metadata:
          name: Sample
          version: 2.0.0
        principles:
          - id: safety
            title: Safety
            description: Be safe.
            category: safety
            severity: high
        rules:
          - id: no-rm
            principle: safety
            effect: deny
            severity: high
            message: No recursive delete
            condition: |
              action.type == "shell" &&
                containsAnyWord(action.arguments, ["rm -rf"])
        """

    @Test func yamlAndJsonOfTheSameDocumentHashTheSame() throws {
        let fromYAML = try CompiledConstitution(source: Self.yaml + "\n")  // with or without the final line break
        let json = """
            {"rules": [{"condition": "action.type == \\"shell\\" &&\\n  containsAnyWord(action.arguments, [\\"rm -rf\\"])\\n", "id": "no-rm",
              "principle": "safety", "effect": "deny", "severity": "high", "message": "No recursive delete"}],
             "metadata": {"version": "2.0.0", "name": "Sample"},
             "principles": [{"id": "safety", "title": "Safety", "description": "Be safe.", "category": "safety", "severity": "high"}]}
            """
        let fromJSON = try CompiledConstitution(source: json)
        #expect(fromYAML.identity == fromJSON.identity)
        #expect(fromYAML.hash.count == 16)
        #expect(fromYAML.hash == String(fromYAML.identity.digest.prefix(16)))
    }

    @Test func anyChangeOfTheRulesChangesTheHash() throws {
        let original = try CompiledConstitution(source: Self.yaml)
        let edited = try CompiledConstitution(source: Self.yaml.replacingOccurrences(of: "effect: deny", with: "effect: escalate"))
        #expect(original.hash != edited.hash)
    }

    @Test func amendmentHashDerivesFromParentAndContent() throws {
        let amended = Self.yaml.replacingOccurrences(of: "  version: 2.0.0", with: "  version: 2.0.0\n  parent_hash: cdd01ef066bc6cf2")
        let c = try CompiledConstitution(source: amended)
        let expected = Digest.sha256Hex("cdd01ef066bc6cf2:\(c.identity.digest)").prefix(16)
        #expect(c.hash == String(expected))
    }

    @Test func declaredHashMustMatchContent() throws {
        let claimed = Self.yaml.replacingOccurrences(of: "  version: 2.0.0", with: "  version: 2.0.0\n  hash: cdd01ef066bc6cf2")
        let error = try #require(throws: ConstitutionError.self) { try CompiledConstitution(source: claimed) }
        #expect(error.description.contains("claims to be the reference constitution"))
        let wrong = Self.yaml.replacingOccurrences(of: "  version: 2.0.0", with: "  version: 2.0.0\n  hash: 0123456789abcdef")
        let error2 = try #require(throws: ConstitutionError.self) { try CompiledConstitution(source: wrong) }
        #expect(error2.description.contains("declares hash 0123456789abcdef"))
    }

    @Test func conditionErrorsPointAtFileLineAndColumn() throws {
        let broken = Self.yaml.replacingOccurrences(of: "containsAnyWord(action.arguments", with: "containsAnyWrd(action.arguments")
        let error = try #require(throws: ConstitutionError.self) { try CompiledConstitution(source: broken, file: "sample.yaml") }
        let issue = try #require(error.issues.first)
        #expect(issue.ruleId == "no-rm")
        #expect(issue.file == "sample.yaml")
        #expect(issue.position == SourcePosition(line: 18, column: 9))
        #expect(issue.description.hasPrefix("sample.yaml:18:9: rule no-rm: unknown function 'containsAnyWrd'"))
    }

    @Test func inlineConditionErrorsPointIntoTheLine() throws {
        let yaml = Self.yaml.replacingOccurrences(
            of: "condition: |\n      action.type == \"shell\" &&\n        containsAnyWord(action.arguments, [\"rm -rf\"])",
            with: "condition: 'action.type == \"shell\" && size(content) > \"x\"'")
        let error = try #require(throws: ConstitutionError.self) { try CompiledConstitution(source: yaml) }
        // 'condition: ' starts at column 5, the quote at 16, so the offending literal "x" at 59.
        #expect(error.issues.first?.position == SourcePosition(line: 16, column: 59))
    }

    @Test func reportsEveryProblemNotJustTheFirst() throws {
        let yaml = """
            metadata:
              name: Broken
            principles:
              - id: a
                title: A
                description: d
                category: c
                severity: extreme
            rules:
              - id: r1
                principle: nowhere
                effect: forbid
                severity: high
                message: m
                condition: content == "x"
                colour: red
            """
        let error = try #require(throws: ConstitutionError.self) { try CompiledConstitution(source: yaml, file: "b.yaml") }
        let text = error.description
        #expect(text.contains("missing required field 'version'"))
        #expect(text.contains("'extreme' is not a valid severity"))
        #expect(text.contains("'forbid' is not a valid effect"))
        #expect(text.contains("unknown field 'colour'"))
        #expect(text.contains("b.yaml:8:"))
    }

    @Test func duplicateRuleIdsAreRefused() throws {
        let yaml = Self.yaml + """

              - id: no-rm
                principle: safety
                effect: warn
                severity: low
                message: again
                condition: content == "x"
            """
        let error = try #require(throws: ConstitutionError.self) { try CompiledConstitution(source: yaml) }
        #expect(error.description.contains("duplicate rule id 'no-rm'"))
    }

    @Test func yamlSyntaxErrorsHaveAPosition() throws {
        let error = try #require(throws: ConstitutionError.self) { try CompiledConstitution(source: "metadata: [unclosed\nrules: x", file: "s.yaml") }
        #expect(error.issues.first?.position != nil)
        #expect(error.description.contains("syntax error"))
    }
}

@Suite("Canonical JSON")
struct CanonicalJSONTests {
    @Test func sortsKeysAndDropsWhitespace() {
        let v: JSONValue = ["b": 1, "a": ["y": true, "x": nil], "c": [1.5, "s"]]
        #expect(CanonicalJSON.encode(v) == #"{"a":{"x":null,"y":true},"b":1,"c":[1.5,"s"]}"#)
    }

    @Test func escapesControlCharactersOnly() {
        #expect(CanonicalJSON.encode("a\"b\\c\n\u{01}é") == #""a\"b\\c\n\u0001é""#)
    }

    @Test func integralNumbersHaveNoFraction() {
        #expect(CanonicalJSON.encode([1.0, -0.0, 1e3, 0.1]) == "[1,0,1000,0.1]")
    }

    @Test func keysSortByUTF16() {
        // RFC 8785 sorts by UTF-16 code units: U+1F600 (D83D DE00) before U+E000, unlike by code point.
        let v: JSONValue = .object(["\u{1F600}": 1, "\u{E000}": 2, "z": 3])
        #expect(CanonicalJSON.encode(v) == "{\"z\":3,\"\u{1F600}\":1,\"\u{E000}\":2}")
    }

    @Test func keyOrderAgreesWithUTF16ComparisonOnMixedKeys() {
        // Prefixes, shared multi-byte prefixes, and every width of UTF-8 against each other.
        let keys = [
            "", "a", "ab", "b", "Z", "é", "éa", "ü", "\u{7FF}", "\u{800}", "\u{D7FF}", "\u{E000}", "\u{FFFF}", "\u{10000}", "\u{1F600}",
            "\u{1F600}a", "\u{10FFFF}", "a\u{1F600}", "a\u{E000}",
        ]
        for a in keys {
            for b in keys {
                #expect(
                    CanonicalJSON.precedesInUTF16(a, b) == a.utf16.lexicographicallyPrecedes(b.utf16),
                    "\(a.unicodeScalars.map(\.value)) vs \(b.unicodeScalars.map(\.value))")
            }
        }
    }

    @Test func objectsOfManyKeysAreWrittenInUTF16Order() throws {
        // Enough keys, in dictionary (hash) order, that every position of the sort is exercised.
        let keys = (0..<60).map { "k\($0 * 7919 % 101)" } + ["", "Z", "é", "\u{E000}", "\u{1F600}", "a\u{1F600}"]
        let value = JSONValue.object(Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, JSONValue.number(Double($0))) }))
        let written = try JSONValue.parse(CanonicalJSON.encode(value))
        let expected = keys.sorted { $0.utf16.lexicographicallyPrecedes($1.utf16) }
        #expect(CanonicalJSON.encode(value).hasPrefix(#"{"":60,"Z":61,"a\#u{1F600}":65,"k0":0"#))
        #expect(written == value)
        let order = expected.map { "\"\($0)\":" }
        let text = CanonicalJSON.encode(value)
        let positions = order.map { text.range(of: $0)!.lowerBound }
        #expect(positions == positions.sorted())
    }

    @Test func sha256MatchesKnownVector() {
        #expect(Digest.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
