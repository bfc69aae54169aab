import Foundation
import Logging
import RedisClient
import Storage
import Yams

/// Everything `acgs serve` can be told. Defaults are the embedded deployment; a YAML file
/// (`--config`), then `ACGS_...` environment variables, then command-line flags override them.
public struct ServerConfiguration: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var services: [ServiceName] = ServiceName.allCases
    public var ports: [ServiceName: Int] = Dictionary(uniqueKeysWithValues: ServiceName.allCases.map { ($0, $0.defaultPort) })
    public var dataDirectory = "./acgs-data"
    /// A constitution file to enforce instead of the shipped reference constitution.
    public var constitutionPath: String?
    public var cacheMaxEntries = 10_000
    public var cacheTTLSeconds = 300
    public var logLevel: Logger.Level = .info
    /// When set, `/metrics` answers only an admin or an auditor (Bearer), instead of anyone.
    public var metricsRequireAuth = false
    /// Webhooks may deliver to loopback, private and link-local addresses (receivers inside the
    /// deployment's network). Off by default: an agent's webhook could otherwise reach them.
    public var webhooksAllowPrivateNetworks = false
    /// PostgreSQL instead of the embedded SQLite store: `postgres://user:password@host:port/database`.
    public var databaseURL: String?
    /// Redis as the L2 cache and the invalidation channel between replicas: `redis://[:password@]host:port/db`.
    public var redisURL: String?
    /// How often a replica re-reads from PostgreSQL what an invalidation message would have told it,
    /// so that a missed message cannot leave it wrong for longer.
    public var reconcileSeconds = 5

    public init() {}

    /// A key and the reason its value was refused.
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public var key: String
        public var source: String
        public var message: String

        public init(key: String, source: String, message: String) {
            self.key = key
            self.source = source
            self.message = message
        }

        public var description: String { "configuration error: '\(key)' (\(source)): \(message)" }
    }

    // MARK: setting values by key, shared by every source

    /// The keys a configuration file may hold, as `section.key`, with their environment variable.
    public static var keys: [String] {
        [
            "host", "services", "data_dir", "constitution", "log_level", "cache.max_entries", "cache.ttl_seconds", "metrics.require_auth",
            "webhooks.allow_private_networks", "database.url", "redis.url", "cache.reconcile_seconds",
        ]
            + ServiceName.allCases.map { "ports.\($0.configKey)" }
    }

    static func environmentName(_ key: String) -> String {
        "ACGS_" + key.replacingOccurrences(of: ".", with: "_").uppercased()
    }

    public mutating func set(_ key: String, _ raw: String, source: String) throws(Error) {
        func fail(_ message: String) -> Error { Error(key: key, source: source, message: message) }
        func integer(_ range: ClosedRange<Int>) throws(Error) -> Int {
            guard let n = Int(raw.trimmingCharacters(in: .whitespaces)), range.contains(n) else {
                throw fail("expected a whole number from \(range.lowerBound) to \(range.upperBound), got '\(raw)'")
            }
            return n
        }
        func boolean() throws(Error) -> Bool {
            switch raw.lowercased() {
            case "true", "yes", "1": return true
            case "false", "no", "0": return false
            default: throw fail("expected true or false, got '\(raw)'")
            }
        }
        switch key {
        case "host":
            guard !raw.isEmpty, !raw.contains(" ") else { throw fail("expected a host name or address, got '\(raw)'") }
            host = raw
        case "services":
            var chosen: [ServiceName] = []
            for name in raw.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
                let normalised = name.replacingOccurrences(of: "_", with: "-").lowercased()
                guard let service = ServiceName(rawValue: normalised) ?? (normalised == "all" ? nil : nil) else {
                    if normalised == "all" { chosen = ServiceName.allCases; continue }
                    throw fail("unknown service '\(name)' (available: \(ServiceName.allCases.map(\.rawValue).joined(separator: ", ")), all)")
                }
                if !chosen.contains(service) { chosen.append(service) }
            }
            guard !chosen.isEmpty else { throw fail("expected at least one service") }
            services = chosen
        case "data_dir":
            guard !raw.isEmpty else { throw fail("expected a directory path") }
            dataDirectory = raw
        case "constitution":
            guard !raw.isEmpty else { throw fail("expected a constitution file path") }
            constitutionPath = raw
        case "log_level":
            guard let level = Logger.Level(rawValue: raw.lowercased()) else {
                throw fail("expected one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got '\(raw)'")
            }
            logLevel = level
        case "cache.max_entries":
            cacheMaxEntries = try integer(1...10_000_000)
        case "cache.ttl_seconds":
            cacheTTLSeconds = try integer(1...86_400)
        case "cache.reconcile_seconds":
            reconcileSeconds = try integer(1...3_600)
        case "database.url":
            do {
                _ = try PostgresLocation(url: raw)
            } catch {
                throw fail("\(error.description) (the URL itself is not repeated here: it may hold a password)")
            }
            databaseURL = raw
        case "redis.url":
            do {
                _ = try RedisConfiguration(url: raw)
            } catch {
                throw fail("\(error) (the URL itself is not repeated here: it may hold a password)")
            }
            redisURL = raw
        case "metrics.require_auth":
            metricsRequireAuth = try boolean()
        case "webhooks.allow_private_networks":
            webhooksAllowPrivateNetworks = try boolean()
        default:
            if key.hasPrefix("ports."), let service = ServiceName.allCases.first(where: { "ports.\($0.configKey)" == key }) {
                ports[service] = try integer(1...65_535)
            } else {
                throw fail("unknown key (known keys: \(Self.keys.joined(separator: ", ")))")
            }
        }
    }

    // MARK: sources

    /// Applies a YAML configuration file: a mapping of the keys above, sections as nested mappings.
    public mutating func apply(yaml text: String, file: String) throws(Error) {
        let root: Any?
        do {
            root = try Yams.load(yaml: text)
        } catch {
            throw Error(key: "(file)", source: file, message: "not valid YAML: \(error)")
        }
        guard let root else { return }
        guard let mapping = root as? [String: Any] else {
            throw Error(key: "(file)", source: file, message: "expected a mapping of configuration keys")
        }
        try apply(mapping: mapping, prefix: "", file: file)
    }

    private mutating func apply(mapping: [String: Any], prefix: String, file: String) throws(Error) {
        for key in mapping.keys.sorted() {
            let full = prefix + key
            let value = mapping[key]
            if let nested = value as? [String: Any] {
                // The sections are the prefixes of the dotted keys.
                guard Self.keys.contains(where: { $0.hasPrefix(full + ".") }) else {
                    throw Error(key: full, source: file, message: "unknown section (known keys: \(Self.keys.joined(separator: ", ")))")
                }
                try apply(mapping: nested, prefix: full + ".", file: file)
            } else if let list = value as? [Any], full == "services" {
                try set(full, list.map { "\($0)" }.joined(separator: ","), source: file)
            } else if let value, !(value is [Any]) {
                try set(full, "\(value)", source: file)
            } else {
                throw Error(key: full, source: file, message: "expected a single value")
            }
        }
    }

    /// Applies `ACGS_...` variables. An unknown `ACGS_` variable is refused: it is most likely a typo
    /// that would otherwise silently leave a default in place.
    public mutating func apply(environment: [String: String]) throws(Error) {
        let known = Dictionary(uniqueKeysWithValues: Self.keys.map { (Self.environmentName($0), $0) })
        for name in environment.keys.sorted() where name.hasPrefix("ACGS_") {
            guard let key = known[name] else {
                if Self.reservedEnvironment.contains(name) { continue }
                throw Error(key: name, source: "environment", message: "unknown variable (known: \(known.keys.sorted().joined(separator: ", ")))")
            }
            try set(key, environment[name] ?? "", source: "environment variable \(name)")
        }
    }

    /// Variables read by other parts of `acgs` rather than by the server configuration.
    static let reservedEnvironment: Set<String> = ["ACGS_ADMIN_PASSWORD", "ACGS_BINARY"]

    public func port(of service: ServiceName) -> Int { ports[service] ?? service.defaultPort }
}
