import AuditLog
import Foundation
import GovernanceCore
import Testing

@testable import Storage

func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("acgs-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A decision's audit event, as the decision path writes it.
func decisionEvent(_ id: String, outcome: Outcome = .allow, agent: String? = "agent-1") -> AuditEvent {
    AuditEvent(
        type: .decision, actor: agent ?? "anonymous", constitutionalHash: "cdd01ef066bc6cf2", subjects: [id] + (agent.map { [$0] } ?? []),
        canonicalPayload: CanonicalJSON.encode([
            "constitution_version": "1.0.0", "decision_id": .string(id),
            "evaluation": ["decision": .string(outcome.rawValue), "score": 0.5, "violations": []], "input": ["content": "x"],
        ]),
        inputDigest: String(repeating: "a", count: 64), outcome: outcome == .allow ? nil : outcome.rawValue)
}

@Suite("Decisions in the audit log")
struct DecisionRecordTests {
    @Test func decisionsAreFoundByIdFromTheirEntries() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let repo = try await SQLiteAuditRepository.open(path: dir + "/d.sqlite")
        let writer = try await AuditLogWriter.open(repository: repo)
        _ = try await writer.append(AuditEvent(type: .system, actor: "system", constitutionalHash: "cdd01ef066bc6cf2", payload: ["event": "started"]))
        let indices = try await writer.append([decisionEvent("d1", outcome: .deny), decisionEvent("d2", agent: nil)])
        #expect(try await repo.count() == 2, "only decision entries count")
        let d1 = try #require(try await repo.find(id: "d1"))
        #expect(d1.outcome == .deny)
        #expect(d1.agentId == "agent-1")
        #expect(d1.auditIndex == indices[0])
        #expect(d1.constitutionHash == "cdd01ef066bc6cf2")
        #expect(d1.constitutionVersion == "1.0.0")
        #expect(d1.maskedInput == #"{"content":"x"}"#)
        #expect(d1.violations == "[]")
        #expect(d1.inputDigest == String(repeating: "a", count: 64))
        #expect(try await repo.find(id: "d2")?.agentId == nil)
        #expect(try await repo.find(id: "nope") == nil)
        try await repo.ping()
        try await repo.close()

        let reopened = try await SQLiteAuditRepository.open(path: dir + "/d.sqlite")
        #expect(try await reopened.find(id: "d1") == d1, "decisions survive reopening")
        try await reopened.close()
    }

    @Test func anAgentsRecentDenialsAndEscalationsAreCounted() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sqlite = try await SQLiteAuditRepository.open(path: dir + "/d.sqlite")
        let postgres = try await RunningPostgres.fresh()
        defer { postgres.stop() }
        for repo in [sqlite, InMemoryAuditRepository(), PostgresAuditRepository(store: postgres.store)] as [any AuditRepository] {
            let writer = try await AuditLogWriter.open(repository: repo)
            _ = try await writer.append([
                decisionEvent("a1", outcome: .deny), decisionEvent("a2", outcome: .escalate), decisionEvent("a3", outcome: .deny),
                decisionEvent("a4", outcome: .allow), decisionEvent("b1", outcome: .deny, agent: "agent-2"),
            ])
            let counts = try await repo.decisionCounts(actor: "agent-1", since: 0)
            #expect(counts.denials == 2 && counts.escalations == 1)
            let future = try await repo.decisionCounts(actor: "agent-1", since: Int64.max / 2)
            #expect(future.denials == 0 && future.escalations == 0)
        }
        try await sqlite.close()
    }

    @Test func theSameLookupWorksInMemory() async throws {
        let repo = InMemoryAuditRepository()
        let writer = try await AuditLogWriter.open(repository: repo)
        let index = try await writer.append(decisionEvent("m1", outcome: .escalate))
        #expect(try await repo.find(id: "m1")?.outcome == .escalate)
        #expect(try await repo.find(id: "m1")?.auditIndex == index)
        #expect(try await repo.count() == 1)
    }
}

@Suite("Group commit")
struct GroupCommitterTests {
    actor Batches {
        var sizes: [Int] = []
        func add(_ n: Int) { sizes.append(n) }
    }

    @Test func concurrentSubmissionsShareBatchesAndAllLand() async throws {
        let batches = Batches()
        let committer = GroupCommitter<Int, Int> { items in
            await batches.add(items.count)
            try await Task.sleep(for: .milliseconds(2))  // a flush takes time; submissions queue behind it
            return items.map { $0 * 2 }
        }
        let outputs = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for i in 0..<500 { group.addTask { (i, try await committer.submit(i)) } }
            var all: [(Int, Int)] = []
            for try await pair in group { all.append(pair) }
            return all
        }
        #expect(outputs.count == 500)
        #expect(outputs.allSatisfy { $0.1 == $0.0 * 2 }, "each submitter gets the output for its own item")
        let sizes = await batches.sizes
        #expect(sizes.reduce(0, +) == 500)
        #expect(sizes.count < 500, "submissions made while a write is in flight must share the next batch")
    }

    /// Holds every write until released, recording the batches.
    actor Gate {
        private(set) var batches: [[Int]] = []
        private var held: [CheckedContinuation<Void, Never>] = []
        private var open = false

        func enter(_ items: [Int]) async {
            batches.append(items)
            if !open { await withCheckedContinuation { held.append($0) } }
        }

        func release() {
            open = true
            for continuation in held { continuation.resume() }
            held = []
        }
    }

    /// Submits `items` while the write of `first` is held, and returns each item's outcome.
    static func submitDuringAWrite(
        _ committer: GroupCommitter<Int, Int>, gate: Gate, first: Int, items: [Int]
    ) async -> [Int: Result<Int, any Error>] {
        await withTaskGroup(of: (Int, Result<Int, any Error>).self) { group in
            func submit(_ i: Int) {
                group.addTask {
                    do { return (i, .success(try await committer.submit(i))) } catch { return (i, .failure(error)) }
                }
            }
            submit(first)
            while await gate.batches.isEmpty { await Task.yield() }
            for i in items { submit(i) }
            while committer.waiting < items.count { await Task.yield() }
            await gate.release()
            var outcomes: [Int: Result<Int, any Error>] = [:]
            for await (i, outcome) in group { outcomes[i] = outcome }
            return outcomes
        }
    }

    @Test func itemsArrivingDuringAWriteAreWrittenNextInBatchesOfAtMostTheLimit() async throws {
        let gate = Gate()
        let committer = GroupCommitter<Int, Int>(maxBatch: 3) { items in
            await gate.enter(items)
            return items.map { $0 * 10 }
        }
        let outcomes = await Self.submitDuringAWrite(committer, gate: gate, first: 0, items: Array(1...7))
        for i in 0...7 { #expect(try outcomes[i]?.get() == i * 10, "each submitter gets the output of its own item") }
        let batches = await gate.batches
        #expect(batches.first == [0], "the write in flight holds only the item that started it")
        #expect(batches.map(\.count) == [1, 3, 3, 1], "the seven that waited are written three at a time")
        #expect(batches.flatMap { $0 }.sorted() == Array(0...7))
        #expect(committer.waiting == 0)
    }

    @Test func aFailedWriteFailsOnlyItsBatchAndTheNextBatchIsStillWritten() async throws {
        struct Down: Error {}
        let gate = Gate()
        let committer = GroupCommitter<Int, Int> { items in
            await gate.enter(items)
            if items.contains(0) { throw Down() }
            return items
        }
        let outcomes = await Self.submitDuringAWrite(committer, gate: gate, first: 0, items: [1, 2])
        #expect(throws: Down.self) { try outcomes[0]?.get() }
        #expect(try outcomes[1]?.get() == 1)
        #expect(try outcomes[2]?.get() == 2)
        #expect(await gate.batches.count == 2)
        // Nothing is left leading: the next submission is written at once.
        #expect(try await committer.submit(3) == 3)
    }

    @Test func aStagingWriterQueuesTheNextBatchWhileTheLastOneCommits() async throws {
        let commits = Gate()
        let committer = GroupCommitter<Int, Int>.staging { items in
            // Queued at once; the commit (held by the gate) is what the submitters await.
            return {
                await commits.enter(items)
                return items.map { $0 * 10 }
            }
        }
        let outcomes = await withTaskGroup(of: (Int, Int?).self) { group in
            group.addTask { (0, try? await committer.submit(0)) }
            while await commits.batches.isEmpty { await Task.yield() }
            for i in 1...3 { group.addTask { (i, try? await committer.submit(i)) } }
            // Every item reaches its commit while the first commit is still held: the lead passed
            // on once the first batch was queued. (Were it passed only after the commit, this would
            // wait until the deadline.)
            let deadline = ContinuousClock.now + .seconds(10)
            while await commits.batches.flatMap({ $0 }).count < 4, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(1))
            }
            let queuedWhileHeld = await commits.batches.flatMap { $0 }.sorted()
            await commits.release()
            var outcomes: [Int: Int] = [:]
            for await (i, output) in group { outcomes[i] = output }
            return (queuedWhileHeld, outcomes)
        }
        #expect(outcomes.0 == [0, 1, 2, 3])
        #expect(outcomes.1 == [0: 0, 1: 10, 2: 20, 3: 30], "each submitter gets the output of its own item")
    }

    @Test func aFailedWriteFailsEverySubmitterOfTheBatch() async throws {
        struct Down: Error {}
        let committer = GroupCommitter<Int, Void> { _ in throw Down() }
        await #expect(throws: Down.self) { try await committer.submit(1) }
        await #expect(throws: Down.self) { try await committer.submit(2) }
    }
}
