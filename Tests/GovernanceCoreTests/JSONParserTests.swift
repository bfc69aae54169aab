import Testing

@testable import GovernanceCore

@Suite("JSON parser")
struct JSONParserTests {
    @Test(arguments: [
        (#"{"a": [1, -2.5e3, true, false, null, "x"]}"#, JSONValue.object(["a": [1, -2500, true, false, nil, "x"]])),
        (#""\u00e9\n\"\\\/\ud83d\ude00""#, JSONValue.string("é\n\"\\/😀")),
        (" [ ] ", JSONValue.array([])),
        ("0", JSONValue.number(0)),
        (#"{"k":{}}"#, JSONValue.object(["k": .object([:])])),
    ])
    func parsesValidJSON(text: String, expected: JSONValue) throws {
        #expect(try JSONValue.parse(text) == expected)
    }

    @Test(arguments: [
        ("", "unexpected end"), ("{", "expected a string key"), (#"{"a" 1}"#, "expected ':'"), ("[1,]", "unexpected character"),
        ("01", "unexpected data"), ("1.", "invalid number"), ("-", "invalid number"), ("tru", "unexpected end"),
        (#"{"a":1,"a":2}"#, "duplicate key 'a'"), (#""\x""#, "invalid escape"), (#""\ud800""#, "unpaired surrogate"),
        ("\"a\u{01}\"", "control character"), ("1e999", "out of range"), ("[1] 2", "unexpected data"),
    ])
    func rejectsInvalidJSON(text: String, fragment: String) {
        #expect {
            try JSONValue.parse(text)
        } throws: { error in
            (error as? JSONParseError)?.message.contains(fragment) == true
        }
    }

    @Test func refusesDeepNestingInsteadOfExhaustingTheStack() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
        let fine = String(repeating: "[", count: JSONValue.maxDepth) + String(repeating: "]", count: JSONValue.maxDepth)
        #expect((try? JSONValue.parse(fine)) != nil)
    }

    @Test func roundTripsThroughCanonicalJSON() throws {
        let value: JSONValue = ["z": ["b": 1.5, "a": "é\u{01}"], "a": [true, nil]]
        #expect(try JSONValue.parse(CanonicalJSON.encode(value)) == value)
    }
}
