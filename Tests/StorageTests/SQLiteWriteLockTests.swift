import Foundation
import Synchronization
import Testing

@testable import Storage

@Suite("One writer at a time on the embedded file")
struct SQLiteWriteLockTests {
    @Test func everyConnectionToAFileSharesItsLock() throws {
        let dir = try temporaryDirectory()
        #expect(SQLiteWriteLock.forFile(dir + "/acgs.sqlite") === SQLiteWriteLock.forFile(dir + "/./sub/../acgs.sqlite"))
        #expect(SQLiteWriteLock.forFile(dir + "/acgs.sqlite") !== SQLiteWriteLock.forFile(dir + "/other.sqlite"))
    }

    @Test func writersRunOneAtATime() async throws {
        final class Tally: Sendable {
            let inside = Atomic(0)
            let most = Atomic(0)
            let ran = Mutex<[Int]>([])
        }
        let lock = SQLiteWriteLock()
        let tally = Tally()
        // The first holds the lock while the others queue; each body suspends, so overlap would show.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<40 {
                group.addTask {
                    try await lock.exclusive {
                        let now = tally.inside.add(1, ordering: .relaxed).newValue
                        tally.most.max(now, ordering: .relaxed)
                        tally.ran.withLock { $0.append(n) }
                        try await Task.sleep(for: .microseconds(200))
                        tally.inside.subtract(1, ordering: .relaxed)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(tally.most.load(ordering: .relaxed) == 1)
        #expect(tally.ran.withLock { $0.count } == 40)
    }

    @Test func aFailingWriterReleasesTheLock() async throws {
        struct Refused: Error {}
        let lock = SQLiteWriteLock()
        await #expect(throws: Refused.self) { try await lock.exclusive { throw Refused() } }
        #expect(try await lock.exclusive { 42 } == 42)
    }

    /// The audit log's group commits and the review store's inserts on one file, at once: every
    /// write lands (no SQLITE_BUSY after the busy timeout, no lost row).
    @Test func theAuditLogAndTheReviewStoreWriteTheSameFileConcurrently() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let audit = try await SQLiteAuditRepository.open(path: dir + "/acgs.sqlite")
        let reviews = try await SQLiteReviewRepository.open(path: dir + "/acgs.sqlite")
        let log = try await AuditLogWriter.open(repository: audit)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<300 {
                group.addTask {
                    if n % 2 == 0 {
                        _ = try await log.append(auditEvent(n))
                    } else {
                        try await reviews.insert(ReviewRepositoryTests.request("rev_\(n)", risk: 0.9))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(await log.head().size == 150)
        #expect(try await reviews.openCount() == 150)
        try await reviews.close()
        try await audit.close()
    }
}
