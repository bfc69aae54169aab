import Foundation
import NIOCore
import SQLiteNIO
import Testing

@testable import Storage

@Suite("One writer per embedded file, group-committed across stores")
struct SQLiteFileWriterTests {
    /// A writer on a fresh file with a table of unique names.
    static func withWriter(_ body: (SQLiteFileWriter, String) async throws -> Void) async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let writer = try await SQLiteFileWriter.acquire(path: dir + "/acgs.sqlite")
        _ = try await writer.write("CREATE TABLE names (name TEXT PRIMARY KEY)")
        do {
            try await body(writer, dir + "/acgs.sqlite")
        } catch {
            await writer.release()
            throw error
        }
        await writer.release()
    }

    @Test func everyStoreOnAFileSharesItsWriterUntilTheLastLetsGo() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let reviews = try await SQLiteReviewRepository.open(path: dir + "/acgs.sqlite")
        let webhooks = try await SQLiteWebhookRepository.open(path: dir + "/./acgs.sqlite")
        #expect(reviews.connection.writer === webhooks.connection.writer)
        let other = try await SQLiteFileWriter.acquire(path: dir + "/other.sqlite")
        #expect(other !== reviews.connection.writer)
        await other.release()
        try await reviews.close()
        // Still open for the webhook store.
        try await webhooks.insert(WebhookRecord(id: "whk_1", agentId: nil, url: "http://127.0.0.1:9/", secret: "sixteen characters", createdBy: "usr_1", createdAt: Date()))
        #expect(try await webhooks.find(id: "whk_1") != nil)
        try await webhooks.close()
    }

    /// Each commit writes every page it changed whole: small pages keep a decision's commit small.
    /// The size can only be chosen before the file has any content, so it must be set first.
    @Test func aNewFileUsesSmallPagesInWriteAheadLogMode() async throws {
        try await Self.withWriter { writer, _ in
            let pageSize = try await writer.write("PRAGMA page_size").first?.column("page_size")?.integer
            let journal = try await writer.write("PRAGMA journal_mode").first?.column("journal_mode")?.string
            #expect(pageSize == 1024)
            #expect(journal == "wal")
        }
    }

    /// Rows a write returns (`RETURNING`) keep each column's type, blobs and text byte for byte.
    @Test func returnedRowsKeepTheirTypes() async throws {
        try await Self.withWriter { writer, _ in
            _ = try await writer.write("CREATE TABLE things (i INTEGER, f REAL, t TEXT, b BLOB, n TEXT)")
            let text = "é\u{0}ü 🙂"
            let blob: [UInt8] = [0, 1, 255, 0, 7]
            let rows = try await writer.write(
                "INSERT INTO things VALUES (?, ?, ?, ?, ?) RETURNING i, f, t, b, n",
                [.integer(-42), .float(2.5), .text(text), .blob(ByteBuffer(bytes: blob)), .null])
            let row = try #require(rows.first)
            #expect(rows.count == 1)
            #expect(row.column("i")?.integer == -42)
            #expect(row.column("f")?.double == 2.5)
            #expect(row.column("t")?.string == text)
            #expect(row.column("b")?.blob.map { Array($0.readableBytesView) } == blob)
            #expect(row.column("n") == .null)
            #expect(row.column("missing") == nil)
            // The statement is prepared once and kept: a second run binds afresh, nothing of the first stays.
            let again = try await writer.write(
                "INSERT INTO things VALUES (?, ?, ?, ?, ?) RETURNING i, f, t, b, n", [.integer(7), .null, .text("x"), .null, .text("y")])
            #expect(again.first?.column("i")?.integer == 7)
            #expect(again.first?.column("f") == .null)
            #expect(again.first?.column("t")?.string == "x")
            #expect(again.first?.column("b") == .null)
            #expect(again.first?.column("n")?.string == "y")
            // Empty text stays text (a null pointer would have bound NULL); long text is bound whole.
            let long = String(repeating: "entry-é ", count: 500)
            let third = try await writer.write(
                "INSERT INTO things VALUES (?, ?, ?, ?, ?) RETURNING t, n, typeof(t) AS kind", [.integer(8), .null, .text(""), .null, .text(long)])
            #expect(third.first?.column("kind")?.string == "text")
            #expect(third.first?.column("t")?.string == "")
            #expect(third.first?.column("n")?.string == long)
        }
    }

    @Test func aWriterThatCouldNotBeOpenedIsTriedAgain() async throws {
        let dir = try temporaryDirectory() + "/not-yet"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Two stores at once on a file whose directory does not exist: both fail.
        let attempts = (0..<2).map { _ in Task { try await SQLiteFileWriter.acquire(path: dir + "/acgs.sqlite") } }
        for attempt in attempts { await #expect(throws: (any Error).self) { _ = try await attempt.value } }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let writer = try await SQLiteFileWriter.acquire(path: dir + "/acgs.sqlite")
        #expect(try await writer.write("SELECT 1 AS one").first?.column("one")?.integer == 1)
        await writer.release()
    }

    @Test func concurrentWritesShareTransactionsAndAllLand() async throws {
        try await Self.withWriter { writer, path in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<200 { group.addTask { _ = try await writer.write("INSERT INTO names VALUES (?)", [.text("n\(n)")]) } }
                try await group.waitForAll()
            }
            #expect(writer.transactions < 200, "grouped into fewer transactions than writes")
            let rows = try await writer.write("DELETE FROM names RETURNING name")
            #expect(rows.count == 200)
        }
    }

    @Test func aFailingWriteFailsAloneAndTakesNothingOfItsOwnWithIt() async throws {
        try await Self.withWriter { writer, _ in
            _ = try await writer.write("INSERT INTO names VALUES ('taken')")
            // Submitted together, so that they share a transaction: the conflict fails only its own job,
            // and its job's first statement does not stand either.
            let conflicting = Task { try await writer.write([("INSERT INTO names VALUES ('mine')", []), ("INSERT INTO names VALUES ('taken')", [])]) }
            let fine = Task { try await writer.write("INSERT INTO names VALUES ('fine') RETURNING name") }
            await #expect(throws: SQLiteWriteError.self) { _ = try await conflicting.value }
            #expect(try await fine.value.first?.column("name")?.string == "fine")
            let names = try await writer.write("DELETE FROM names RETURNING name").compactMap { $0.column("name")?.string }
            #expect(Set(names) == ["taken", "fine"])
        }
    }

    /// The audit log's group commits and the review store's inserts on one file, at once: every
    /// write lands.
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
