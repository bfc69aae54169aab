import AuditLog
import Foundation
import GovernanceCore
import Hummingbird
import Identity
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

    /// The stores a runtime was built on, to close on shutdown.
    public struct Stores: Sendable {
        public var identities: SQLiteIdentityRepository
        public var audit: SQLiteAuditRepository
        public var reviews: SQLiteReviewRepository
        public var webhooks: SQLiteWebhookRepository

        public func close() async {
            try? await identities.close()
            try? await audit.close()
            try? await reviews.close()
            try? await webhooks.close()
        }
    }

    /// The shared core on the embedded store in the data directory: identities and the audit log
    /// (decisions are audit entries) in `acgs.sqlite`; token signing keys in `keys/` and audit signing keys in
    /// `audit-keys/` (owner-only). Refuses an audit store that is not the log that was signed.
    public static func makeRuntime(_ configuration: ServerConfiguration, logger: Logger) async throws -> (GovernanceRuntime, Stores) {
        let constitution = try loadConstitution(path: configuration.constitutionPath)
        let directory = configuration.dataDirectory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let database = directory + "/acgs.sqlite"
        let identities = try await SQLiteIdentityRepository.open(path: database, logger: logger)
        let audit: SQLiteAuditRepository
        let reviews: SQLiteReviewRepository
        let webhooks: SQLiteWebhookRepository
        do {
            audit = try await SQLiteAuditRepository.open(path: database, logger: logger)
            do {
                reviews = try await SQLiteReviewRepository.open(path: database, logger: logger)
                do {
                    webhooks = try await SQLiteWebhookRepository.open(path: database, logger: logger)
                } catch {
                    try? await reviews.close()
                    throw error
                }
            } catch {
                try? await audit.close()
                throw error
            }
        } catch {
            try? await identities.close()
            throw error
        }
        let stores = Stores(identities: identities, audit: audit, reviews: reviews, webhooks: webhooks)
        do {
            let policy = AuthPolicy()
            let keys = try await SigningKeyStore(directory: directory + "/keys", retiredKeyLifetime: policy.accessTokenLifetime)
            let tokens = await TokenService(keys: keys, issuer: policy.issuer, audience: policy.audience, lifetime: policy.accessTokenLifetime)
            let log: AuditLogWriter
            do {
                log = try await AuditLogWriter.open(repository: audit)
            } catch let error as AuditStoreError {
                throw AuditIntegrityError("the audit store cannot be opened as a log: \(error)")
            }
            let treeHeads = try await TreeHeadSigner(
                log: log, keys: try await AuditSigningKeys.open(dataDirectory: directory),
                constitutionalHash: { constitution.hash })
            try await treeHeads.checkStoreAgainstLatestHead()
            let runtime = GovernanceRuntime(
                constitution: constitution, decisions: audit, treeHeads: treeHeads, identities: identities, tokens: tokens, reviews: reviews,
                webhooks: WebhookDispatcher(repository: webhooks, logger: logger),
                authPolicy: policy, cacheCapacity: configuration.cacheMaxEntries, cacheTTL: .seconds(configuration.cacheTTLSeconds),
                metricsRequireAuth: configuration.metricsRequireAuth, logger: logger)
            return (runtime, stores)
        } catch {
            await stores.close()
            throw error
        }
    }

    /// Runs the services. `onFirstAdmin` receives the generated password of the first admin, when
    /// one had to be created without `ACGS_ADMIN_PASSWORD`, so that the command line can show it once.
    public static func run(
        _ configuration: ServerConfiguration, adminPassword: String?, logger: Logger,
        onFirstAdmin: @Sendable (String, String) -> Void = { _, _ in }
    ) async throws {
        let (runtime, stores) = try await makeRuntime(configuration, logger: logger)
        // Webhook deliveries left in the outbox when the server last stopped go out now.
        try await runtime.reviews.webhooks?.resume()
        // The start and the constitution in force are the first entries of every run.
        _ = try await runtime.auditLog.append([
            AuditEvent(
                type: .system, actor: "system", constitutionalHash: runtime.activeHash,
                payload: ["event": "started", "version": .string(ACGSVersion.current), "services": .array(configuration.services.map { .string($0.rawValue) })]),
            AuditEvent(
                type: .constitution, actor: "system", constitutionalHash: runtime.activeHash, subjects: [runtime.activeHash],
                payload: [
                    "event": "activated", "name": .string(runtime.constitution.document.name), "version": .string(runtime.constitution.version),
                    "digest": .string(runtime.constitution.identity.digest), "rules": .number(Double(runtime.constitution.ruleCount)),
                ]),
        ])
        if let created = try await runtime.auth.ensureAdmin(password: adminPassword) {
            logger.notice("first start: created the admin account", metadata: ["username": "\(created.username)"])
            if let generated = created.generatedPassword { onFirstAdmin(created.username, generated) }
        }
        logger.info(
            "constitution loaded",
            metadata: [
                "constitutional_hash": "\(runtime.activeHash)", "version": "\(runtime.constitution.version)",
                "rules": "\(runtime.constitution.ruleCount)",
            ])
        var services: [any Service] = [
            SQLiteCheckpointer(repository: stores.audit, logger: logger), AuthMaintenance(auth: runtime.auth, logger: logger),
            TreeHeadSigningService(signer: runtime.treeHeads, logger: logger),
            ReviewDeadlineService(desk: runtime.reviews, logger: logger),
        ]
        for service in configuration.services {
            let port = configuration.port(of: service)
            services.append(buildApplication(service: service, runtime: runtime, host: configuration.host, port: port, logger: logger))
            logger.info("service listening", metadata: ["service": "\(service.rawValue)", "address": "\(configuration.host):\(port)"])
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await stores.close()
    }
}
