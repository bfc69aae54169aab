import ArgumentParser
import Foundation
import Logging
import GovernanceCore
import Server

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the ACGS-2 services (by default all of them, on the embedded store).",
        discussion: """
            Settings come from the defaults, then --config FILE (YAML), then ACGS_... environment \
            variables, then these flags. Keys: \(ServerConfiguration.keys.joined(separator: ", ")).
            """)

    @Option(name: .long, help: "Comma-separated services to run (\(ServiceName.allCases.map(\.rawValue).joined(separator: ", ")), or all).")
    var services: String?

    @Option(name: .long, help: "Directory of the embedded store.")
    var dataDir: String?

    @Option(name: .long, help: "YAML configuration file.")
    var config: String?

    @Option(name: .long, help: "Constitution file to enforce instead of the reference constitution.")
    var constitution: String?

    @Option(name: .long, help: "Address to bind.")
    var host: String?

    @Option(name: .long, help: "Port, when a single service runs.")
    var port: Int?

    @Option(name: .long, help: "Log level (trace, debug, info, notice, warning, error, critical).")
    var logLevel: String?

    func run() async throws {
        let configuration: ServerConfiguration
        do {
            configuration = try resolve(environment: ProcessInfo.processInfo.environment)
        } catch let error as ServerConfiguration.Error {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
        LoggingSystem.bootstrap { label in ServerLogHandler(label: label, logLevel: configuration.logLevel) }
        let logger = Logger(label: "acgs")
        if !ThreadScheduling.favourThroughput() {
            logger.notice("the batch scheduling policy is not available here; threads keep the default policy")
        }
        do {
            try await ACGSServer.run(
                configuration, adminPassword: ProcessInfo.processInfo.environment["ACGS_ADMIN_PASSWORD"], logger: logger
            ) { username, password in
                // Shown once, on the terminal only: it is never logged or stored in clear.
                // Written unbuffered so that it shows at once even when standard output is a file.
                FileHandle.standardOutput.write(
                    Data("First start: created admin account '\(username)' with password \(password)\nChange it with POST /api/v1/auth/users/<id>/password.\n".utf8))
            }
        } catch let error as ConstitutionError {
            FileHandle.standardError.write(Data(("refusing to start: the constitution cannot be trusted:\n\(error.description)\n").utf8))
            throw ExitCode(78)
        } catch let error as AuditIntegrityError {
            FileHandle.standardError.write(Data(("refusing to start: the audit log cannot be trusted: \(error.description)\nRun `acgs audit verify` for a full report.\n").utf8))
            throw ExitCode(78)
        } catch let error as CocoaError where error.code == .fileReadNoSuchFile || error.code == .fileReadUnknown {
            FileHandle.standardError.write(Data(("refusing to start: cannot read the constitution file: \(error.localizedDescription)\n").utf8))
            throw ExitCode(78)
        }
    }

    func resolve(environment: [String: String]) throws -> ServerConfiguration {
        var c = ServerConfiguration()
        if let config {
            guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
                throw ServerConfiguration.Error(key: "--config", source: "command line", message: "cannot read '\(config)'")
            }
            try c.apply(yaml: text, file: config)
        }
        try c.apply(environment: environment)
        let flags: [(String, String?)] = [
            ("services", services), ("data_dir", dataDir), ("constitution", constitution), ("host", host), ("log_level", logLevel),
        ]
        for (key, value) in flags { if let value { try c.set(key, value, source: "--\(key.replacingOccurrences(of: "_", with: "-"))") } }
        if let port {
            guard c.services.count == 1, let only = c.services.first else {
                throw ServerConfiguration.Error(key: "--port", source: "command line", message: "--port applies when exactly one service runs; use ports.<service> in --config for several")
            }
            try c.set("ports.\(only.configKey)", String(port), source: "--port")
        }
        return c
    }
}
