import RedisClient

/// What an L2 entry holds, with the deployment guide's time to live for it.
public enum CachePurpose: String, Sendable, CaseIterable {
    case constitutionalHash = "constitutional_hash"
    case jwtValidation = "jwt_validation"
    case policyDecisions = "policy_decisions"

    public var ttlSeconds: Int {
        switch self {
        case .constitutionalHash: 86_400
        case .jwtValidation: 3_600
        case .policyDecisions: 1_800
        }
    }
}

/// Which tier answered a lookup.
public enum CacheTier: String, Sendable {
    case l1, l2
}

/// The L2 tier: Redis, shared by every replica, under each replica's in-memory L1. Every failure is
/// a miss and every write is fire-and-forget, so losing Redis slows nothing down and stops nothing:
/// the replicas go on with their L1 alone.
public final class L2Cache: Sendable {
    public let redis: RedisClient

    public init(redis: RedisClient) {
        self.redis = redis
    }

    /// Keys are namespaced by purpose and constitutional hash, so an entry made under one
    /// constitution is never read under another.
    public static func key(_ purpose: CachePurpose, hash: String, _ key: String) -> String {
        "acgs:\(purpose.rawValue):\(hash):\(key)"
    }

    public func get(_ purpose: CachePurpose, hash: String, key: String) async -> String? {
        try? await redis.get(Self.key(purpose, hash: hash, key))
    }

    /// Stores in the background; `ttlSeconds` shortens the purpose's time to live (never lengthens it).
    public func set(_ purpose: CachePurpose, hash: String, key: String, value: String, ttlSeconds: Int? = nil) {
        let ttl = max(1, min(ttlSeconds ?? purpose.ttlSeconds, purpose.ttlSeconds))
        let redisKey = Self.key(purpose, hash: hash, key)
        Task { [redis] in try? await redis.set(redisKey, value, expirySeconds: ttl) }
    }

    /// False while Redis cannot be reached: the deployment runs on its L1 caches alone.
    public var isAvailable: Bool { redis.isHealthy }
}
