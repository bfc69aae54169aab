/// A counter the replicas of a deployment share, moved on by every revocation: what a replica has
/// cached under an older generation is no longer trusted. Replicas learn a new generation from a
/// Redis message within a second, and by reading this counter again when a message may have been
/// missed.
public protocol CacheGenerationStore: Sendable {
    func current() async throws -> Int
    /// Moves the counter on; returns the new generation.
    func advance() async throws -> Int
}

/// The counter of a single server: nothing else needs to see it.
public actor InMemoryCacheGenerations: CacheGenerationStore {
    private var generation = 0

    public init() {}

    public func current() -> Int { generation }

    public func advance() -> Int {
        generation += 1
        return generation
    }
}
