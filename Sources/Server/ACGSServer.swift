import Foundation
import GovernanceCore
import Hummingbird
import Logging
import ServiceLifecycle
import Storage

/// Starts the configured services over one shared core and runs them until SIGINT or SIGTERM.
public enum ACGSServer {
    /// Loads and verifies the constitution to enforce: the shipped reference, or a file.
    public static func loadConstitution(path: String?) throws -> CompiledConstitution {
        guard let path else { return try CompiledConstitution(source: ReferenceConstitution.source, file: "<reference>") }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try CompiledConstitution(source: text, file: path)
    }

    /// The shared core on the embedded store in the data directory.
    public static func makeRuntime(_ configuration: ServerConfiguration, logger: Logger) async throws -> (GovernanceRuntime, SQLiteDecisionRepository) {
        let constitution = try loadConstitution(path: configuration.constitutionPath)
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let store = try await SQLiteDecisionRepository.open(path: configuration.dataDirectory + "/acgs.sqlite", logger: logger)
        let runtime = GovernanceRuntime(
            constitution: constitution, decisions: store, cacheCapacity: configuration.cacheMaxEntries,
            cacheTTL: .seconds(configuration.cacheTTLSeconds), logger: logger)
        return (runtime, store)
    }

    public static func run(_ configuration: ServerConfiguration, logger: Logger) async throws {
        let (runtime, store) = try await makeRuntime(configuration, logger: logger)
        logger.info(
            "constitution loaded",
            metadata: [
                "constitutional_hash": "\(runtime.activeHash)", "version": "\(runtime.constitution.version)",
                "rules": "\(runtime.constitution.ruleCount)",
            ])
        var services: [any Service] = [SQLiteCheckpointer(repository: store, logger: logger)]
        for service in configuration.services {
            let port = configuration.port(of: service)
            services.append(buildApplication(service: service, runtime: runtime, host: configuration.host, port: port, logger: logger))
            logger.info("service listening", metadata: ["service": "\(service.rawValue)", "address": "\(configuration.host):\(port)"])
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        defer { Task { try? await store.close() } }
        try await group.run()
    }
}
