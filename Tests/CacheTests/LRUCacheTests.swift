import Synchronization
import Testing

@testable import Cache

@Suite("L1 cache")
struct LRUCacheTests {
    @Test func returnsWhatWasStored() {
        let cache = LRUCache<String, Int>(capacity: 10, ttl: .seconds(60))
        cache.set("a", 1)
        #expect(cache.get("a") == 1)
        #expect(cache.get("b") == nil)
        #expect(cache.statistics == .init(hits: 1, misses: 1, evictions: 0, count: 1))
        #expect(cache.statistics.hitRate == 0.5)
    }

    @Test func evictsTheLeastRecentlyUsed() {
        let cache = LRUCache<Int, Int>(capacity: 3, ttl: .seconds(60))
        for i in 1...3 { cache.set(i, i) }
        _ = cache.get(1)  // 2 is now the least recently used
        cache.set(4, 4)
        #expect(cache.get(2) == nil)
        #expect(cache.get(1) == 1 && cache.get(3) == 3 && cache.get(4) == 4)
        #expect(cache.statistics.evictions == 1)
        #expect(cache.statistics.count == 3)
    }

    @Test func expiresEntriesAfterTheirTTL() {
        let cache = LRUCache<String, Int>(capacity: 10, ttl: .seconds(300))
        let start = ContinuousClock.now
        cache.set("a", 1, now: start)
        #expect(cache.get("a", now: start + .seconds(299)) == 1)
        #expect(cache.get("a", now: start + .seconds(301)) == nil)
        #expect(cache.statistics.count == 0)
    }

    @Test func overwritingRefreshesValueAndTTL() {
        let cache = LRUCache<String, Int>(capacity: 2, ttl: .seconds(10))
        let start = ContinuousClock.now
        cache.set("a", 1, now: start)
        cache.set("a", 2, now: start + .seconds(8))
        #expect(cache.get("a", now: start + .seconds(15)) == 2)
        #expect(cache.statistics.count == 1)
    }

    @Test func removeAndRemoveAll() {
        let cache = LRUCache<Int, Int>(capacity: 5, ttl: .seconds(10))
        for i in 0..<5 { cache.set(i, i) }
        cache.remove(2)
        #expect(cache.get(2) == nil)
        cache.removeAll()
        #expect(cache.statistics.count == 0)
        cache.set(9, 9)
        #expect(cache.get(9) == 9)
    }

    @Test func staysConsistentUnderConcurrentUse() async {
        let cache = LRUCache<Int, Int>(capacity: 100, ttl: .seconds(60))
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    for i in 0..<5_000 {
                        let key = (i * 7 + t) % 300
                        if let v = cache.get(key) { #expect(v == key) } else { cache.set(key, key) }
                    }
                }
            }
        }
        let stats = cache.statistics
        #expect(stats.count <= 100)
        #expect(stats.hits + stats.misses == 40_000)
    }

    @Test func concurrentMissesLoadOnce() async throws {
        let cache = LRUCache<String, Int>(capacity: 10, ttl: .seconds(60))
        final class Count: Sendable { let loads = Atomic(0) }
        let count = Count()
        let gate = AsyncStream<Void>.makeStream()
        // The first load waits until every caller has asked, so that they all miss while it runs.
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            let stream = gate.stream
            for _ in 0..<20 {
                group.addTask {
                    try await cache.value(for: "a") {
                        count.loads.add(1, ordering: .relaxed)
                        for await _ in stream { break }
                        return 7
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(200))
            gate.continuation.finish()
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(values == Array(repeating: 7, count: 20))
        #expect(count.loads.load(ordering: .relaxed) == 1)
        #expect(cache.get("a") == 7)
    }

    @Test func aFailedLoadIsNotCachedAndTheNextCallLoadsAgain() async throws {
        struct Unavailable: Error {}
        let cache = LRUCache<String, Int>(capacity: 10, ttl: .seconds(60))
        await #expect(throws: Unavailable.self) { try await cache.value(for: "a") { throw Unavailable() } }
        #expect(cache.get("a") == nil)
        #expect(try await cache.value(for: "a") { 3 } == 3)
        #expect(try await cache.value(for: "a") { 4 } == 3)
    }
}
