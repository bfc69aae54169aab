import Synchronization

/// A thread-safe least-recently-used cache with a time to live: the L1 tier, in process memory.
/// Entries older than `ttl` are never returned; when full, the least recently used entry goes.
public final class LRUCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    public struct Statistics: Sendable, Equatable {
        public var hits: Int
        public var misses: Int
        public var evictions: Int
        public var count: Int

        /// Share of lookups answered from the cache, 0 when nothing was looked up yet.
        public var hitRate: Double { hits + misses == 0 ? 0 : Double(hits) / Double(hits + misses) }
    }

    private struct Node {
        var key: Key
        var value: Value
        var expires: ContinuousClock.Instant
        var previous: Int
        var next: Int
    }

    /// A doubly linked list threaded through an array, most recent at `head`; indices instead of
    /// references so that a hit allocates nothing.
    private struct Storage {
        var index: [Key: Int] = [:]
        var nodes: [Node] = []
        var free: [Int] = []
        var head = -1
        var tail = -1
        var stats = Statistics(hits: 0, misses: 0, evictions: 0, count: 0)
        /// Loads running for `value(for:load:)`, by key.
        var loads: [Key: Task<Value, any Error>] = [:]

        mutating func unlink(_ i: Int) {
            let (p, n) = (nodes[i].previous, nodes[i].next)
            if p >= 0 { nodes[p].next = n } else { head = n }
            if n >= 0 { nodes[n].previous = p } else { tail = p }
        }

        mutating func pushFront(_ i: Int) {
            nodes[i].previous = -1
            nodes[i].next = head
            if head >= 0 { nodes[head].previous = i }
            head = i
            if tail < 0 { tail = i }
        }

        mutating func remove(_ i: Int) {
            unlink(i)
            index[nodes[i].key] = nil
            free.append(i)
        }
    }

    public let capacity: Int
    public let ttl: Duration
    private let storage = Mutex(Storage())

    public init(capacity: Int, ttl: Duration) {
        self.capacity = max(1, capacity)
        self.ttl = ttl
    }

    public func get(_ key: Key, now: ContinuousClock.Instant = .now) -> Value? {
        storage.withLock { s in
            guard let i = s.index[key] else {
                s.stats.misses += 1
                return nil
            }
            guard s.nodes[i].expires > now else {
                s.remove(i)
                s.stats.misses += 1
                return nil
            }
            s.unlink(i)
            s.pushFront(i)
            s.stats.hits += 1
            return s.nodes[i].value
        }
    }

    public func set(_ key: Key, _ value: Value, now: ContinuousClock.Instant = .now) {
        let expires = now + ttl
        storage.withLock { s in
            if let i = s.index[key] {
                s.nodes[i].value = value
                s.nodes[i].expires = expires
                s.unlink(i)
                s.pushFront(i)
                return
            }
            if s.index.count >= capacity, s.tail >= 0 {
                s.remove(s.tail)
                s.stats.evictions += 1
            }
            let node = Node(key: key, value: value, expires: expires, previous: -1, next: -1)
            let i: Int
            if let reused = s.free.popLast() {
                s.nodes[reused] = node
                i = reused
            } else {
                s.nodes.append(node)
                i = s.nodes.count - 1
            }
            s.index[key] = i
            s.pushFront(i)
        }
    }

    /// The cached value, or one loaded by `load` and cached. Callers that miss on the same key while
    /// a load runs wait for that load instead of running their own: when an entry expires under a
    /// burst of requests, the store is asked once, not once per request. A failed load is not cached.
    public func value(for key: Key, load: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if let value = get(key) { return value }
        let running = storage.withLock { s in
            if let running = s.loads[key] { return running }
            let task = Task {
                defer { self.storage.withLock { _ = $0.loads.removeValue(forKey: key) } }
                let value = try await load()
                self.set(key, value)
                return value
            }
            s.loads[key] = task
            return task
        }
        return try await running.value
    }

    public func remove(_ key: Key) {
        storage.withLock { s in
            if let i = s.index[key] { s.remove(i) }
        }
    }

    public func removeAll() {
        storage.withLock { s in s = Storage(stats: s.stats, loads: s.loads) }
    }

    public var statistics: Statistics {
        storage.withLock { s in
            var stats = s.stats
            stats.count = s.index.count
            return stats
        }
    }
}
