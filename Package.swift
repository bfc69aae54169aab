// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    // Generic code of one module (the LRU cache, say) specialised where another uses it: unspecialised,
    // its run-time metadata lookups took 3.2% of the fast lane's CPU, 2.0% with this (docs/PERFORMANCE.md).
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
]

let package = Package(
    name: "acgs",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "acgs", targets: ["acgs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // The governance core: constitution, rule language, detectors, decisions. No I/O.
        .target(
            name: "GovernanceCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // Repositories behind protocols; the embedded SQLite and the production PostgreSQL implementations.
        .target(
            name: "Storage",
            dependencies: [
                "GovernanceCore", "AuditLog",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Identities of agents and people: passwords, second factors, API keys, tokens and keys.
        .target(
            name: "Identity",
            dependencies: [
                "GovernanceCore", "Storage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HummingbirdOTP", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The tamper-evident log: entries, RFC 6962 Merkle tree, signed heads, proofs and the
        // verifier. No I/O.
        .target(
            name: "AuditLog",
            dependencies: ["GovernanceCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The caches: the in-memory L1, and the Redis L2 shared by replicas.
        .target(
            name: "Cache",
            dependencies: ["GovernanceCore", "RedisClient"],
            swiftSettings: swiftSettings
        ),
        // The HTTP layer: application builder, shared middleware, one folder per service.
        .target(
            name: "Server",
            dependencies: [
                "GovernanceCore", "Storage", "Cache", "Identity", "AuditLog", "RedisClient",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // A Redis client on SwiftNIO: RESP2, pipelining, a pool that reconnects, pub/sub.
        .target(
            name: "RedisClient",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "acgs",
            dependencies: [
                "GovernanceCore", "Server", "Storage", "Identity", "AuditLog", "Cache", "RedisClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // Real PostgreSQL and Redis servers started by the tests, on free loopback ports.
        .target(name: "TestServers", path: "Tests/TestServers", swiftSettings: swiftSettings),
        .testTarget(
            name: "GovernanceCoreTests", dependencies: ["GovernanceCore"], exclude: ["Golden"], swiftSettings: swiftSettings),
        .testTarget(name: "CacheTests", dependencies: ["Cache"], swiftSettings: swiftSettings),
        .testTarget(
            name: "AuditLogTests", dependencies: ["AuditLog", "GovernanceCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),
        .testTarget(name: "IdentityTests", dependencies: ["Identity", "Storage"], swiftSettings: swiftSettings),
        .testTarget(
            name: "StorageTests",
            dependencies: [
                "Storage", "AuditLog", "GovernanceCore", "TestServers", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"), .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "Identity", "Storage", "GovernanceCore", "Cache", "RedisClient", "TestServers",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdOTP", package: "hummingbird-auth"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Real servers (redis-server, ...) started by tests on free loopback ports. Speaks to them
        // only through processes and sockets, so it depends on none of the clients it tests.
        .testTarget(
            name: "RedisClientTests",
            dependencies: [
                "RedisClient", "TestServers",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["acgs", "GovernanceCore", "TestServers", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
    ]
)
