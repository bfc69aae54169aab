import ArgumentParser
import Foundation
import GovernanceCore
import Server

/// Judges one action offline and prints the decision. Exit status: 0 allow, 1 deny, 2 escalate,
/// 3 usage or input error.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Judge one action (JSON from a file or stdin) against a constitution, offline.",
        discussion: """
            The input is the API's request body: {"action": {"type", "tool", "arguments", "target", \
            "description"}, "content", "context", "principles"}, plus "agent" when judging offline.
            Exit status: 0 allow, 1 deny, 2 escalate, 3 usage or input error.
            """)

    @Argument(help: "JSON file with the input; '-' or nothing reads standard input.")
    var file: String?

    @Option(name: .long, help: "Constitution file (default: the shipped reference constitution).")
    var constitution: String?

    @Flag(name: .long, help: "Print the API's JSON response instead of a human-readable report.")
    var json = false

    func run() throws {
        let compiled: CompiledConstitution
        do {
            compiled = try ACGSServer.loadConstitution(path: constitution)
        } catch let error as ConstitutionError {
            throw InputError("the constitution cannot be used:\n\(error.description)")
        } catch {
            throw InputError("cannot read the constitution '\(constitution ?? "")': \(error.localizedDescription)")
        }
        let data: Data
        if let file, file != "-" {
            guard let d = FileManager.default.contents(atPath: file) else { throw InputError("cannot read '\(file)'") }
            data = d
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        let (input, principles) = try Self.parse(data, constitution: compiled)
        let start = ContinuousClock.now
        let evaluation = compiled.evaluate(input, principles: principles)
        let elapsed = ContinuousClock.now - start
        let decision = Decision(
            id: "offline", evaluation: evaluation, violations: DecisionJSON.violations(evaluation.violations),
            constitutionHash: compiled.hash, constitutionVersion: compiled.version, cacheHit: false,
            validationMicroseconds: Int(elapsed.components.attoseconds / 1_000_000_000_000))
        if json {
            print(CanonicalJSON.encode(DecisionJSON.response(decision)))
        } else {
            print(Self.report(decision, constitution: compiled))
        }
        switch evaluation.outcome {
        case .allow: return
        case .deny: throw ExitCode(1)
        case .escalate: throw ExitCode(2)
        }
    }

    static func parse(_ data: Data, constitution: CompiledConstitution) throws -> (JudgedInput, Set<String>?) {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw InputError("the input is not valid JSON: \(error)")
        }
        guard case .object(let fields) = value else { throw InputError("the input must be a JSON object") }
        let allowed: Set<String> = ["action", "content", "context", "principles", "agent"]
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw InputError("unknown field '\(unknown)' (expected: \(allowed.sorted().joined(separator: ", ")))")
        }
        let action = fields["action"] ?? .null
        let content = fields["content"] ?? .null
        guard !(action.isNull && content.isNull) else { throw InputError("the input needs 'content', 'action', or both") }
        if !action.isNull {
            guard case .object(let a) = action, a["type"]?.stringValue != nil else {
                throw InputError("'action' must be an object with a string 'type'")
            }
        }
        if !content.isNull && content.stringValue == nil { throw InputError("'content' must be a string") }
        for key in ["context", "agent"] {
            if let v = fields[key], !v.isNull, v.objectValue == nil { throw InputError("'\(key)' must be an object") }
        }
        var principles: Set<String>?
        if let p = fields["principles"], !p.isNull {
            guard let list = p.arrayValue?.compactMap(\.stringValue), list.count == p.arrayValue?.count else {
                throw InputError("'principles' must be a list of principle ids")
            }
            if let unknown = list.first(where: { constitution.principle($0) == nil }) {
                throw InputError("unknown principle '\(unknown)'")
            }
            principles = Set(list)
        }
        return (JudgedInput(action: action, content: content, context: fields["context"] ?? .null, agent: fields["agent"] ?? .null), principles)
    }

    static func report(_ d: Decision, constitution: CompiledConstitution) -> String {
        let e = d.evaluation
        var lines = [
            "\(e.outcome.rawValue.uppercased())  score \(e.score)  constitution \(constitution.hash) (\(constitution.document.name) \(constitution.version))",
            e.reasoning,
        ]
        for v in e.violations {
            lines.append("  \(v.effect == .warn ? "!" : "✗") \(v.ruleId) [\(v.effect.rawValue), \(v.severity.rawValue)] principle \(v.principleId): \(v.message)")
            for ev in v.evidence {
                lines.append("      evidence \(ev.field): \(ev.match)\(ev.detector.map { " (\($0))" } ?? "")")
            }
        }
        if !e.recommendations.isEmpty {
            lines.append("Recommendations:")
            lines += e.recommendations.map { "  - \($0)" }
        }
        return lines.joined(separator: "\n")
    }
}

/// A usage or input error: printed, exit status 3.
struct InputError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
