import AuditLog
import Cache
import Foundation
import GovernanceCore
import Hummingbird
import Identity
import Logging
import RedisClient
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

    /// The shared core over `stores` (decisions are audit entries); token signing keys in `keys/`
    /// and audit signing keys in `audit-keys/` of the data directory (owner-only), which replicas
    /// share. Refuses an audit store that is not the log that was signed.
    public static func makeRuntime(
        _ configuration: ServerConfiguration, stores: Stores, l2: L2Cache? = nil, logger: Logger
    ) async throws -> GovernanceRuntime {
        let constitution = try loadConstitution(path: configuration.constitutionPath)
        let directory = configuration.dataDirectory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let audit = stores.audit
        let identities = stores.identities
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
            return GovernanceRuntime(
                constitution: constitution, decisions: audit, treeHeads: treeHeads, identities: identities, tokens: tokens,
                reviews: stores.reviews, webhooks: WebhookDispatcher(
                    repository: stores.webhooks, allowsPrivateNetworks: configuration.webhooksAllowPrivateNetworks, logger: logger),
                authPolicy: policy, cacheCapacity: configuration.cacheMaxEntries, cacheTTL: .seconds(configuration.cacheTTLSeconds), l2: l2,
                metricsRequireAuth: configuration.metricsRequireAuth, logger: logger)
    }

    /// Runs the services until SIGTERM or SIGINT. On PostgreSQL, the connection pool is a service of
    /// its own that starts before the governance services and stops after them. `onFirstAdmin`
    /// receives the generated password of the first admin, when one had to be created without
    /// `ACGS_ADMIN_PASSWORD`, so that the command line can show it once.
    public static func run(
        _ configuration: ServerConfiguration, adminPassword: String?, logger: Logger,
        onFirstAdmin: @escaping @Sendable (String, String) -> Void = { _, _ in }
    ) async throws {
        var services: [any Service] = []
        let database = try configuration.databaseURL.map { try PostgresStore(url: $0, logger: Logger(label: "acgs.postgres")) }
        if let database { services.append(database) }
        let redis = try configuration.redisURL.map { url in
            var redis = try RedisConfiguration(url: url)
            // The cache is worth a short wait only: past it, a lookup is a miss and the L1 carries on.
            redis.commandTimeout = .milliseconds(250)
            redis.connectTimeout = .milliseconds(500)
            return RedisClient(configuration: redis, logger: Logger(label: "acgs.redis"))
        }
        if let redis { services.append(redis) }
        services.append(
            GovernanceServices(
                configuration: configuration, database: database, redis: redis, adminPassword: adminPassword, logger: logger,
                onFirstAdmin: onFirstAdmin))
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The governance services over one runtime: opens the stores, records the start, and runs the
/// listeners and background work until graceful shutdown, then closes the stores.
struct GovernanceServices: Service {
    let configuration: ServerConfiguration
    let database: PostgresStore?
    let redis: RedisClient?
    let adminPassword: String?
    let logger: Logger
    let onFirstAdmin: @Sendable (String, String) -> Void

    func run() async throws {
        let stores: Stores
        if let database {
            stores = try await Self.waitForDatabase(logger: logger) { try await Stores.postgres(database) }
        } else {
            stores = try await Stores.embedded(directory: configuration.dataDirectory, logger: logger)
        }
        do {
            try await run(on: stores)
        } catch {
            await stores.close()
            throw error
        }
        await stores.close()
    }

    /// Replicas may start before PostgreSQL answers: wait for it a while rather than fail at once.
    static func waitForDatabase<T>(logger: Logger, _ open: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            do {
                return try await open()
            } catch {
                guard ContinuousClock.now < deadline, !Task.isCancelled else { throw error }
                logger.warning("PostgreSQL is not available yet; retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func run(on stores: Stores) async throws {
        let runtime = try await ACGSServer.makeRuntime(configuration, stores: stores, l2: redis.map(L2Cache.init), logger: logger)
        var sync: ReplicaSync?
        if let redis {
            let replicaSync = ReplicaSync(
                redis: redis, generations: database.map(PostgresCacheGenerations.init) ?? InMemoryCacheGenerations(), auth: runtime.auth,
                constitutionalHash: { runtime.activeHash }, reconcileInterval: .seconds(configuration.reconcileSeconds), logger: logger)
            runtime.auth.share(with: replicaSync)
            sync = replicaSync
        }
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
        var services: [any Service] = stores.services + [
            AuthMaintenance(auth: runtime.auth, logger: logger),
            TreeHeadSigningService(signer: runtime.treeHeads, logger: logger, leadership: database.map(PostgresLeadership.treeHeadSigner)),
            ReviewDeadlineService(desk: runtime.reviews, logger: logger),
        ]
        if let webhooks = runtime.reviews.webhooks { services.append(WebhookOutboxService(dispatcher: webhooks, logger: logger)) }
        if let sync { services.append(sync) }
        for service in configuration.services {
            let port = configuration.port(of: service)
            services.append(buildApplication(service: service, runtime: runtime, host: configuration.host, port: port, logger: logger))
            logger.info("service listening", metadata: ["service": "\(service.rawValue)", "address": "\(configuration.host):\(port)"])
        }
        // A group of its own, shut down gracefully when the outer group is.
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        try await withGracefulShutdownHandler {
            try await group.run()
        } onGracefulShutdown: {
            Task { await group.triggerGracefulShutdown() }
        }
    }
}
