import Cache
import Foundation
import GovernanceCore
import Identity
import Logging
import RedisClient
import ServiceLifecycle
import Storage
import Synchronization

/// Keeps the replicas of a deployment in agreement about what may be cached.
///
/// A revocation stored by one replica moves the shared cache generation on (in PostgreSQL) and is
/// published on Redis; every replica that hears it drops the validations it cached, so a revoked
/// credential is refused everywhere within a second. A replica that missed the message (Redis down,
/// a dropped subscription) reads the generation again every `reconcileInterval`, and at once when
/// its subscription comes back. Validations cached in the L2 carry their generation in the key, so an
/// entry made before a revocation is never read after it.
final class ReplicaSync: Service, ValidationSharing {
    static let channel = "acgs:invalidate"

    let redis: RedisClient
    let l2: L2Cache
    let generations: any CacheGenerationStore
    let auth: AuthService
    let constitutionalHash: @Sendable () -> String
    let reconcileInterval: Duration
    let logger: Logger
    private let generation = Atomic<Int>(0)

    init(
        redis: RedisClient, generations: any CacheGenerationStore, auth: AuthService, constitutionalHash: @escaping @Sendable () -> String,
        reconcileInterval: Duration, logger: Logger
    ) {
        self.redis = redis
        self.l2 = L2Cache(redis: redis)
        self.generations = generations
        self.auth = auth
        self.constitutionalHash = constitutionalHash
        self.reconcileInterval = reconcileInterval
        self.logger = logger
    }

    var currentGeneration: Int { generation.load(ordering: .acquiring) }

    func run() async throws {
        await reconcile()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await repeatUntilShutdown(every: self.reconcileInterval) { await self.reconcile() }
            }
            group.addTask {
                await cancelWhenGracefulShutdown {
                    for await message in self.redis.subscribe(channels: [Self.channel]) {
                        switch message {
                        case .message(_, let payload):
                            if let announced = Int(payload) { self.adopt(announced) }
                        case .resubscribed:
                            // Messages may have been published while the subscription was down.
                            await self.reconcile()
                        case .subscribed, .disconnected:
                            break
                        }
                    }
                }
            }
            await group.waitForAll()
        }
    }

    /// Reads the shared generation; a newer one than this replica's drops its cached validations.
    func reconcile() async {
        do {
            adopt(try await generations.current())
        } catch {
            logger.warning("could not read the cache generation; will retry", metadata: ["error.type": "\(type(of: error))"])
        }
    }

    private func adopt(_ announced: Int) {
        let previous = generation.raise(to: announced).oldValue
        if announced > previous {
            auth.dropCachedValidations()
        }
    }

    // MARK: ValidationSharing

    private func key(_ credentialHash: String) -> String { "g\(currentGeneration):\(credentialHash)" }

    func cachedPrincipal(credentialHash: String) async -> Principal? {
        guard let text = await l2.get(.jwtValidation, hash: constitutionalHash(), key: key(credentialHash)) else { return nil }
        return try? JSONDecoder.forCache.decode(Principal.self, from: Data(text.utf8))
    }

    func share(_ principal: Principal, credentialHash: String) {
        guard let data = try? JSONEncoder.forCache.encode(principal) else { return }
        let ttl = principal.expiresAt.map { Int($0.timeIntervalSinceNow.rounded(.down)) }
        if let ttl, ttl < 1 { return }
        l2.set(.jwtValidation, hash: constitutionalHash(), key: key(credentialHash), value: String(decoding: data, as: UTF8.self), ttlSeconds: ttl)
    }

    func revoked() async {
        do {
            let next = try await generations.advance()
            adopt(next)
            _ = try await redis.publish(channel: Self.channel, message: String(next))
        } catch {
            // The others read the generation again within the reconciliation period.
            logger.warning("could not announce a revocation to the other replicas", metadata: ["error.type": "\(type(of: error))"])
        }
    }
}

extension JSONEncoder {
    /// Dates as milliseconds, so that what the L2 holds reads back exactly.
    static var forCache: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return encoder
    }
}

extension JSONDecoder {
    static var forCache: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }
}

extension Atomic where Value == Int {
    /// Stores the larger of the stored and the given value.
    func raise(to value: Int) -> (oldValue: Int, newValue: Int) {
        var current = load(ordering: .acquiring)
        while current < value {
            let (exchanged, original) = compareExchange(expected: current, desired: value, ordering: .acquiringAndReleasing)
            if exchanged { return (original, value) }
            current = original
        }
        return (current, current)
    }
}
