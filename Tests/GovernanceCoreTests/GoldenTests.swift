import Foundation
import Testing

@testable import GovernanceCore

/// One labelled input of the golden table (`Golden/golden.json`): what the reference constitution
/// must decide for it, and exactly which rules (of any effect, warnings included) must match.
struct GoldenCase: Decodable, Sendable, CustomTestStringConvertible {
    struct Input: Decodable, Sendable {
        var action: JSONValue?
        var content: JSONValue?
        var context: JSONValue?
        /// The acting agent, as the gateway would take it from the credentials (optional).
        var agent: JSONValue?
    }

    var name: String
    var input: Input
    var decision: Outcome
    var rules: [String]

    var testDescription: String { name }

    var judgedInput: JudgedInput {
        JudgedInput(
            action: input.action ?? .null, content: input.content ?? .null, context: input.context ?? .null,
            agent: input.agent ?? .null)
    }
}

enum GoldenTable {
    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Golden").appendingPathComponent("golden.json")

    static func load() throws -> [GoldenCase] {
        try JSONDecoder().decode([GoldenCase].self, from: Data(contentsOf: url))
    }

    /// The table, or nothing if it cannot be read (`tableLoads` then reports why).
    static let cases: [GoldenCase] = (try? load()) ?? []

    static let reference: CompiledConstitution? = try? CompiledConstitution(source: ReferenceConstitution.source)
}

@Suite("Golden table")
struct GoldenTests {
    @Test("the table loads and is large and varied")
    func tableLoads() throws {
        let cases = try GoldenTable.load()
        #expect(cases.count >= 150)
        let benign = cases.filter { $0.decision == .allow }
        let harmful = cases.filter { $0.decision != .allow }
        #expect(benign.count >= cases.count * 3 / 10, "benign cases: \(benign.count) of \(cases.count)")
        #expect(harmful.count >= cases.count * 3 / 10, "harmful cases: \(harmful.count) of \(cases.count)")
        #expect(cases.contains { $0.decision == .deny })
        #expect(cases.contains { $0.decision == .escalate })
        let names = cases.map(\.name)
        #expect(Set(names).count == names.count, "case names are unique")
    }

    @Test("each case gets its decision and exactly its rules", arguments: GoldenTable.cases)
    func golden(_ c: GoldenCase) throws {
        let constitution = try #require(GoldenTable.reference)
        let evaluation = constitution.evaluate(c.judgedInput)
        let matched = Set(evaluation.violations.map(\.ruleId))
        #expect(evaluation.outcome == c.decision, "\(c.name): matched \(matched.sorted())")
        #expect(matched == Set(c.rules), "\(c.name): unexpected \(matched.subtracting(c.rules).sorted()), missing \(Set(c.rules).subtracting(matched).sorted())")
    }

    @Test("the table names only rules of the reference constitution and exercises at least 80% of them")
    func coverage() throws {
        let constitution = try #require(GoldenTable.reference)
        let ruleIds = Set(constitution.document.rules.map(\.id))
        let cases = try GoldenTable.load()
        let named = Set(cases.flatMap(\.rules))
        #expect(named.subtracting(ruleIds).isEmpty, "unknown rule ids: \(named.subtracting(ruleIds).sorted())")
        let exercised = ruleIds.intersection(named)
        #expect(
            Double(exercised.count) >= 0.8 * Double(ruleIds.count),
            "exercised \(exercised.count) of \(ruleIds.count); not exercised: \(ruleIds.subtracting(named).sorted())")
    }
}

@Suite("Reference constitution")
struct ReferenceConstitutionTests {
    @Test("compiles, with at least 8 principles and 40 rules")
    func shape() throws {
        let constitution = try CompiledConstitution(source: ReferenceConstitution.source)
        #expect(constitution.document.name == "ACGS-2 Reference Constitution")
        #expect(constitution.version == "1.1.0")
        #expect(constitution.document.principles.count >= 8)
        #expect(constitution.ruleCount >= 40)
        #expect(constitution.ruleCount == constitution.document.rules.count)
        // Every principle has at least one rule.
        let used = Set(constitution.document.rules.map(\.principle))
        for p in constitution.document.principles { #expect(used.contains(p.id), "principle \(p.id) has no rule") }
    }

    @Test("is named by the guide's hash, and its digest is the pinned one")
    func identity() throws {
        let constitution = try CompiledConstitution(source: ReferenceConstitution.source)
        #expect(constitution.hash == "cdd01ef066bc6cf2")
        #expect(ReferenceConstitution.hash == "cdd01ef066bc6cf2")
        #expect(constitution.identity.digest == ReferenceConstitution.pinnedDigest)
        let loaded = try ConstitutionLoader.load(ReferenceConstitution.source)
        #expect(ConstitutionIdentity.of(loaded.document).digest == ReferenceConstitution.pinnedDigest)
        #expect(loaded.document.declaredHash == "cdd01ef066bc6cf2")
    }

    /// Single-character edits of the source, in the metadata, a message and a condition.
    static let edits: [(String, String)] = [
        ("version: 1.1.0", "version: 1.1.1"),
        ("Recursive deletion of a directory tree", "recursive deletion of a directory tree"),
        ("> 10000", "> 10001"),
        ("\"rm rf*\"", "\"rm rg*\""),
    ]

    @Test("a one-character edit of the source is refused", arguments: 0..<edits.count)
    func editRefused(_ index: Int) throws {
        let (original, replacement) = Self.edits[index]
        let source = ReferenceConstitution.source
        let range = try #require(source.range(of: original), "the source contains \(original)")
        let edited = source.replacingCharacters(in: range, with: replacement)
        #expect(edited.count == source.count)
        // The edited text is still a well-formed constitution, with another digest...
        let loaded = try ConstitutionLoader.load(edited)
        #expect(ConstitutionIdentity.of(loaded.document).digest != ReferenceConstitution.pinnedDigest)
        // ...which claims the reference hash, so compiling it is refused.
        do {
            _ = try CompiledConstitution(source: edited)
            Issue.record("an edited reference constitution was accepted (\(original) -> \(replacement))")
        } catch {
            #expect(error.description.contains("claims to be the reference constitution"), "\(error)")
        }
    }

    @Test("white space and comments outside the rules do not change the identity")
    func formattingKeepsIdentity() throws {
        let reformatted = "# a comment\n" + ReferenceConstitution.source + "\n\n"
        let constitution = try CompiledConstitution(source: reformatted)
        #expect(constitution.hash == "cdd01ef066bc6cf2")
    }
}
