import Foundation
import GovernanceCore
import Testing

@testable import Storage

func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("acgs-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func record(_ id: String, outcome: Outcome = .allow, agent: String? = "agent-1") -> DecisionRecord {
    DecisionRecord(
        id: id, createdAt: Date(timeIntervalSince1970: 1_800_000_000), constitutionHash: "cdd01ef066bc6cf2",
        constitutionVersion: "1.0.0", outcome: outcome, score: 0.5, inputDigest: String(repeating: "a", count: 64),
        maskedInput: #"{"content":"x"}"#, violations: "[]", agentId: agent)
}

@Suite("SQLite decision store")
struct SQLiteDecisionRepositoryTests {
    @Test func storesAndFindsDecisions() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let repo = try await SQLiteDecisionRepository.open(path: dir + "/d.sqlite")
        try await repo.append([record("d1", outcome: .deny), record("d2", agent: nil)])
        #expect(try await repo.count() == 2)
        #expect(try await repo.find(id: "d1") == record("d1", outcome: .deny))
        #expect(try await repo.find(id: "d2")?.agentId == nil)
        #expect(try await repo.find(id: "nope") == nil)
        try await repo.ping()
        try await repo.close()
    }

    @Test func survivesReopeningAndMigratesOnce() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try await SQLiteDecisionRepository.open(path: dir + "/d.sqlite")
        try await first.append([record("keep")])
        try await first.close()
        let second = try await SQLiteDecisionRepository.open(path: dir + "/d.sqlite")
        #expect(try await second.find(id: "keep") != nil)
        let versions = try await second.connection.query("SELECT version FROM schema_migrations")
        #expect(versions.count == SQLiteDecisionRepository.migrations.count)
        try await second.close()
    }

    @Test func aBatchIsAllOrNothing() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let repo = try await SQLiteDecisionRepository.open(path: dir + "/d.sqlite")
        try await repo.append([record("dup")])
        await #expect(throws: (any Error).self) { try await repo.append([record("new"), record("dup")]) }
        #expect(try await repo.find(id: "new") == nil)
        #expect(try await repo.count() == 1)
        try await repo.close()
    }
}

@Suite("Group commit")
struct GroupCommitterTests {
    actor Batches {
        var sizes: [Int] = []
        func add(_ n: Int) { sizes.append(n) }
    }

    @Test func concurrentSubmissionsShareBatchesAndAllLand() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let repo = try await SQLiteDecisionRepository.open(path: dir + "/d.sqlite")
        let batches = Batches()
        let committer = GroupCommitter<DecisionRecord, Void>(store: { items in
            await batches.add(items.count)
            try await repo.append(items)
        })
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<500 { group.addTask { try await committer.submit(record("r\(i)")) } }
            try await group.waitForAll()
        }
        #expect(try await repo.count() == 500)
        let sizes = await batches.sizes
        #expect(sizes.reduce(0, +) == 500)
        #expect(sizes.count < 500, "submissions made while a write is in flight must share the next batch")
        try await repo.close()
    }

    @Test func aFailedWriteFailsEverySubmitterOfTheBatch() async throws {
        struct Down: Error {}
        let committer = GroupCommitter<Int, Void>(store: { _ in throw Down() })
        await #expect(throws: Down.self) { try await committer.submit(1) }
        await #expect(throws: Down.self) { try await committer.submit(2) }
    }
}
