import ArgumentParser
import Foundation

@main
struct ACGS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acgs",
        abstract: "ACGS-2: constitutional governance for AI agents.",
        discussion: "Every action an agent wants to take is judged against a constitution and allowed, denied or escalated.",
        version: "0.1.0",
        subcommands: [Serve.self, Validate.self, ConstitutionCommand.self, AgentCommand.self, UserCommand.self, KeysCommand.self, AuditCommand.self, Migrate.self, Bench.self, Perf.self]
    )

    /// Usage and input errors exit with status 3 (so that `acgs validate` keeps 0, 1 and 2 for
    /// allow, deny and escalate); help and explicit exit codes pass through unchanged.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as InputError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            Foundation.exit(3)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(3)
            }
            exit(withError: error)
        }
    }
}
