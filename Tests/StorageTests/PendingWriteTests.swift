import Foundation
import Testing

@testable import Storage

@Suite("Writes started now and awaited later")
struct PendingWriteTests {
    struct Refused: Error {}

    @Test func theOutcomeReachesAWaiterWhetherItCameBeforeOrAfter() async throws {
        let early = PendingWrite()
        early.finish(.success(()))
        try await early.value()

        let late = PendingWrite()
        let waiter = Task { try await late.value() }
        try await Task.sleep(for: .milliseconds(20))
        late.finish(.failure(Refused()))
        await #expect(throws: Refused.self) { try await waiter.value }

        // Only the first outcome counts.
        let twice = PendingWrite()
        twice.finish(.failure(Refused()))
        twice.finish(.success(()))
        await #expect(throws: Refused.self) { try await twice.value() }
    }
}
