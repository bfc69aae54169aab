import ArgumentParser
import Foundation
import GovernanceCore

struct ConstitutionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "constitution",
        abstract: "Check, hash and show constitutions.",
        subcommands: [Check.self, Hash.self, Show.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Parse and compile a constitution; report every error with file, rule, line and column.")

        @Argument(help: "Constitution file (YAML or JSON).")
        var file: String

        func run() throws {
            let compiled = try ConstitutionCommand.compile(file)
            let d = compiled.document
            print("ok: \(file): \(d.name) \(d.version), \(d.principles.count) principles, \(d.rules.count) rules, hash \(compiled.hash)")
        }
    }

    struct Hash: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a constitution's hash and SHA-256 digest.")

        @Argument(help: "Constitution file (YAML or JSON).")
        var file: String

        func run() throws {
            let compiled = try ConstitutionCommand.compile(file)
            print("hash   \(compiled.hash)")
            print("digest \(compiled.identity.digest)")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the shipped reference constitution (or a file) as YAML or canonical JSON.")

        @Argument(help: "Constitution file; the reference constitution when omitted.")
        var file: String?

        @Flag(name: .long, help: "Print the canonical JSON form that the digest is taken over.")
        var json = false

        @Flag(name: .long, help: "List the kinds each detector reports, for pii(), secret() and injection().")
        var detectors = false

        func run() throws {
            if detectors {
                print("pii:       \(PIIDetector.kinds.sorted().joined(separator: ", "))")
                print("secret:    \(SecretDetector.kinds.sorted().joined(separator: ", "))")
                print("injection: \(InjectionDetector.kinds.sorted().joined(separator: ", "))")
                return
            }
            let compiled = try file.map(ConstitutionCommand.compile) ?? CompiledConstitution(source: ReferenceConstitution.source)
            if json {
                print(compiled.document.canonicalJSON)
            } else if let file {
                print(try String(contentsOfFile: file, encoding: .utf8), terminator: "")
            } else {
                print("# hash \(compiled.hash), digest \(compiled.identity.digest)")
                print(ReferenceConstitution.source)
            }
        }
    }

    static func compile(_ file: String) throws -> CompiledConstitution {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw InputError("cannot read '\(file)'") }
        do {
            return try CompiledConstitution(source: text, file: file)
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(1)
        }
    }
}
