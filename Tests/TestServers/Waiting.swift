/// A condition a test waited for did not hold in time.
public struct ConditionNotMet: Error, CustomStringConvertible {
    public let description: String
}

/// Waits until `condition` holds, checking every 20 ms; fails after `timeout`. Tests of real servers
/// wait for what they expect rather than sleep for a guessed time.
public func waitUntil(_ what: String, timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !(try await condition()) {
        guard ContinuousClock.now < deadline else { throw ConditionNotMet(description: "timed out waiting until \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
