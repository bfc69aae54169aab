import Foundation
import GovernanceCore

/// Which review requests to list.
public struct ReviewQuery: Sendable, Equatable {
    public var states: Set<ReviewState>?
    public var level: EscalationLevel?
    public var assignee: String?
    public var requester: String?
    public var limit: Int

    public init(states: Set<ReviewState>? = nil, level: EscalationLevel? = nil, assignee: String? = nil, requester: String? = nil, limit: Int = 100) {
        self.states = states
        self.level = level
        self.assignee = assignee
        self.requester = requester
        self.limit = limit
    }
}

/// A review request as stored, with the version its next update must name.
public struct StoredReview: Sendable, Equatable {
    public var request: ReviewRequest
    public var version: Int

    public init(request: ReviewRequest, version: Int) {
        self.request = request
        self.version = version
    }
}

public enum ReviewStoreError: Error, Sendable, Equatable {
    /// Someone else changed the request since it was read: read it again and retry.
    case versionConflict(String)
    case notFound(String)
}

/// Where review requests are kept. Deadlines are stored with them, so that they are enforced after a
/// restart. Updates are optimistic: each names the version it read.
public protocol ReviewRepository: Sendable {
    func insert(_ request: ReviewRequest) async throws
    /// Starts the insert and returns at once; the caller awaits its outcome later.
    func beginInsert(_ request: ReviewRequest) -> PendingWrite
    /// Stores `request` if the stored version is still `version`; returns the new version.
    func update(_ request: ReviewRequest, expectedVersion version: Int) async throws -> Int
    func find(id: String) async throws -> StoredReview?
    /// Open requests first by deadline, then decided ones, most recent first.
    func list(_ query: ReviewQuery) async throws -> [ReviewRequest]
    /// Undecided requests whose deadline has passed.
    func due(at now: Date, limit: Int) async throws -> [String]
    /// How many requests are waiting or in review.
    func openCount() async throws -> Int
    /// How many undecided requests each reviewer holds or is assigned.
    func openCountsByAssignee() async throws -> [String: Int]
    func ping() async throws
}

extension ReviewRepository {
    /// A store that can only insert by awaiting does it in a task of its own.
    public func beginInsert(_ request: ReviewRequest) -> PendingWrite {
        PendingWrite { try await self.insert(request) }
    }
}

/// Review requests in memory; for tests.
public actor InMemoryReviewRepository: ReviewRepository {
    private var stored: [String: StoredReview] = [:]

    public init() {}

    public func insert(_ request: ReviewRequest) throws {
        guard stored[request.id] == nil else { throw ReviewStoreError.versionConflict(request.id) }
        stored[request.id] = StoredReview(request: request, version: 1)
    }

    public func update(_ request: ReviewRequest, expectedVersion version: Int) throws -> Int {
        guard let current = stored[request.id] else { throw ReviewStoreError.notFound(request.id) }
        guard current.version == version else { throw ReviewStoreError.versionConflict(request.id) }
        stored[request.id] = StoredReview(request: request, version: version + 1)
        return version + 1
    }

    public func find(id: String) -> StoredReview? { stored[id] }

    public func list(_ query: ReviewQuery) -> [ReviewRequest] {
        Array(
            stored.values.map(\.request)
                .filter { r in
                    (query.states.map { $0.contains(r.state) } ?? true) && (query.level.map { r.level == $0 } ?? true)
                        && (query.assignee.map { r.assignee == $0 } ?? true) && (query.requester.map { r.requester == $0 } ?? true)
                }
                .sorted(by: ReviewOrder.before)
                .prefix(query.limit))
    }

    public func due(at now: Date, limit: Int) -> [String] {
        Array(stored.values.map(\.request).filter { !$0.state.isFinal && $0.deadline <= now }.sorted { $0.deadline < $1.deadline }.prefix(limit).map(\.id))
    }

    public func openCount() -> Int { stored.values.filter { !$0.request.state.isFinal }.count }

    public func openCountsByAssignee() -> [String: Int] {
        var counts: [String: Int] = [:]
        for r in stored.values.map(\.request) where !r.state.isFinal { if let a = r.assignee { counts[a, default: 0] += 1 } }
        return counts
    }

    public func ping() {}
}

/// The queue's order: undecided before decided; among undecided, the most urgent level, then the
/// nearest deadline, then the highest risk; decided ones most recent first.
public enum ReviewOrder {
    public static func before(_ a: ReviewRequest, _ b: ReviewRequest) -> Bool {
        if a.state.isFinal != b.state.isFinal { return !a.state.isFinal }
        if a.state.isFinal { return a.updatedAt > b.updatedAt }
        if a.level != b.level { return a.level > b.level }
        if a.deadline != b.deadline { return a.deadline < b.deadline }
        return a.risk.score > b.risk.score
    }
}
