import Foundation

/// The life of a review request. Only the transitions in `ReviewState.allowed` happen.
public enum ReviewState: String, Sendable, CaseIterable, Codable {
    case pending
    case inReview = "in_review"
    case approved, denied
    case changesRequested = "changes_requested"
    case escalated, expired, cancelled

    /// Decided, one way or another: nothing changes it any more.
    public var isFinal: Bool {
        switch self {
        case .approved, .denied, .changesRequested, .expired, .cancelled: true
        case .pending, .inReview, .escalated: false
        }
    }

    /// Waiting (pending or escalated) or being reviewed: the non-final states lead to any decision,
    /// to an escalation or an expiry, or to cancellation; waiting leads to review and review back to
    /// waiting (a release). Final states lead nowhere.
    public static let allowed: [ReviewState: Set<ReviewState>] = [
        .pending: [.inReview, .approved, .denied, .changesRequested, .escalated, .expired, .cancelled],
        .inReview: [.pending, .escalated, .approved, .denied, .changesRequested, .expired, .cancelled],
        .escalated: [.inReview, .escalated, .approved, .denied, .changesRequested, .expired, .cancelled],
        .approved: [], .denied: [], .changesRequested: [], .expired: [], .cancelled: [],
    ]

    public func canMove(to next: ReviewState) -> Bool { Self.allowed[self]?.contains(next) ?? false }
}

/// What a reviewer decides.
public enum ReviewVerdict: String, Sendable, CaseIterable, Codable {
    case approve, deny
    case requestChanges = "request_changes"
}

/// One reviewer's decision on a request.
public struct ReviewVote: Sendable, Equatable, Codable {
    public var reviewer: String
    public var verdict: ReviewVerdict
    public var reason: String
    /// The principle a council-level approval rests on.
    public var principle: String?
    /// The arguments the action may run with instead (request changes).
    public var changedArguments: JSONValue?
    public var level: EscalationLevel
    public var at: Date

    enum CodingKeys: String, CodingKey {
        case reviewer, verdict, reason, principle, level, at
        case changedArguments = "changed_arguments"
    }

    public init(
        reviewer: String, verdict: ReviewVerdict, reason: String, principle: String? = nil, changedArguments: JSONValue? = nil,
        level: EscalationLevel, at: Date
    ) {
        self.reviewer = reviewer
        self.verdict = verdict
        self.reason = reason
        self.principle = principle
        self.changedArguments = changedArguments
        self.level = level
        self.at = at
    }
}

/// Someone acting on a request: an identity id and its role names.
public struct ReviewActor: Sendable, Equatable {
    public var id: String
    public var roles: Set<String>

    public init(id: String, roles: Set<String>) {
        self.id = id
        self.roles = roles
    }
}

/// Why an operation on a review request was refused.
public enum ReviewError: Error, Sendable, Equatable {
    /// The request is not in a state where this can happen.
    case illegalTransition(from: ReviewState, to: ReviewState)
    /// The actor lacks a reviewer role of the request's level.
    case notAReviewerAtThisLevel(EscalationLevel)
    /// The requesting agent, or someone acting for it, may not review the request.
    case ownRequest
    /// Someone else has claimed the request.
    case claimedByAnother(String)
    case reasonRequired
    /// A council-level approval must name the principle it rests on.
    case principleRequired
    /// Request changes must say which arguments to change.
    case changesRequired
    /// The reviewer has already decided at this level; a quorum counts distinct reviewers.
    case alreadyVoted
}

/// A request for a person to decide an action before it runs.
public struct ReviewRequest: Sendable, Equatable, Codable {
    public var id: String
    /// The agent whose action it is, and the identities acting for it (its owner, a delegating user).
    public var requester: String
    public var actingFor: Set<String>
    public var action: JSONValue
    public var context: JSONValue
    public var reason: String?
    public var urgency: ReviewUrgency
    public var risk: RiskAssessment
    /// The decision that escalated, when the request was opened by the Constitutional AI service.
    public var decisionId: String?
    public var constitutionalHash: String
    public var createdAt: Date
    public private(set) var state: ReviewState
    public private(set) var level: EscalationLevel
    public private(set) var deadline: Date
    public private(set) var assignee: String?
    public private(set) var votes: [ReviewVote] = []
    public private(set) var updatedAt: Date
    /// Where the request waits at its level: pending where it started, escalated above.
    public private(set) var waitingState: ReviewState = .pending

    enum CodingKeys: String, CodingKey {
        case id, requester, action, context, reason, urgency, risk, state, level, deadline, assignee, votes
        case actingFor = "acting_for"
        case decisionId = "decision_id"
        case constitutionalHash = "constitutional_hash"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case waitingState = "waiting_state"
    }

    /// Opens a request routed by `policy`: approved at once in the fast lane, otherwise pending at its
    /// level with that level's deadline. `ruledByConstitution`: the constitution escalates or denies
    /// the action, so it never takes the fast lane.
    public init(
        id: String, requester: String, actingFor: Set<String> = [], action: JSONValue, context: JSONValue, reason: String? = nil,
        urgency: ReviewUrgency = .normal, risk: RiskAssessment, ruledByConstitution: Bool = false, decisionId: String? = nil,
        constitutionalHash: String, policy: ReviewPolicy, at now: Date
    ) {
        self.id = id
        self.requester = requester
        self.actingFor = actingFor
        self.action = action
        self.context = context
        self.reason = reason
        self.urgency = urgency
        self.risk = risk
        self.decisionId = decisionId
        self.constitutionalHash = constitutionalHash
        self.createdAt = now
        self.updatedAt = now
        if let level = policy.route(risk: risk.score, urgency: urgency, ruledByConstitution: ruledByConstitution) {
            self.state = .pending
            self.level = level
            self.deadline = now.addingTimeInterval(policy.policy(for: level).deadline.seconds)
        } else {
            self.state = .approved
            self.level = .technicalReview
            self.deadline = now
        }
    }

    /// Whether the request was approved at once, without a person.
    public var fastLane: Bool { state == .approved && votes.isEmpty }

    /// Distinct reviewers who approved at the current level.
    public var approvals: Set<String> { Set(votes.filter { $0.level == level && $0.verdict == .approve }.map(\.reviewer)) }

    /// Routes a waiting request to a reviewer of its level (the least loaded one, chosen by the
    /// service); the request stays in the queue until that reviewer claims it.
    public mutating func assign(to reviewer: ReviewActor, policy: ReviewPolicy, at now: Date) throws(ReviewError) {
        try checkReviewer(reviewer, policy: policy)
        guard state == .pending || state == .escalated else { throw .illegalTransition(from: state, to: state) }
        if let assignee, assignee != reviewer.id { throw .claimedByAnother(assignee) }
        assignee = reviewer.id
        updatedAt = now
    }

    /// A reviewer takes the request: nobody else decides it while they hold it. An assignment is only
    /// a suggestion until claimed: another reviewer of the level may take a request assigned to
    /// someone who has not started on it.
    public mutating func claim(by reviewer: ReviewActor, policy: ReviewPolicy, at now: Date) throws(ReviewError) {
        try checkReviewer(reviewer, policy: policy)
        if state == .inReview, let assignee, assignee != reviewer.id { throw .claimedByAnother(assignee) }
        if state == .inReview { return }
        try move(to: .inReview, at: now)
        assignee = reviewer.id
    }


    /// The reviewer gives the request back to the queue.
    public mutating func release(by reviewer: ReviewActor, at now: Date) throws(ReviewError) {
        guard state == .inReview else { throw .illegalTransition(from: state, to: waitingState) }
        guard assignee == reviewer.id else { throw .claimedByAnother(assignee ?? "nobody") }
        try move(to: waitingState, at: now)
        assignee = nil
    }

    /// Records a reviewer's decision. A deny or a request for changes decides at once (failing safe);
    /// an approval decides once the level's quorum of distinct reviewers has approved.
    public mutating func decide(_ vote: ReviewVote, by reviewer: ReviewActor, policy: ReviewPolicy, at now: Date) throws(ReviewError) {
        try checkReviewer(reviewer, policy: policy)
        if state == .inReview, let assignee, assignee != reviewer.id { throw .claimedByAnother(assignee) }
        guard !vote.reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw .reasonRequired }
        guard !votes.contains(where: { $0.level == level && $0.reviewer == reviewer.id }) else { throw .alreadyVoted }
        var vote = vote
        vote.reviewer = reviewer.id
        vote.level = level
        vote.at = now
        switch vote.verdict {
        case .deny:
            try move(to: .denied, at: now)
        case .requestChanges:
            guard vote.changedArguments != nil else { throw .changesRequired }
            try move(to: .changesRequested, at: now)
        case .approve:
            if level == .constitutionalCouncil, (vote.principle ?? "").trimmingCharacters(in: .whitespaces).isEmpty { throw .principleRequired }
            let approvals = self.approvals.union([reviewer.id])
            if approvals.count >= policy.policy(for: level).approvalsRequired {
                try move(to: .approved, at: now)
            } else if state == .inReview {
                // Approved by this reviewer; the next one of the quorum claims it from the queue.
                try move(to: waitingState, at: now)
            } else {
                guard !state.isFinal else { throw .illegalTransition(from: state, to: .approved) }
            }
        }
        assignee = nil
        votes.append(vote)
    }

    /// Past its deadline, a request escalates to the next level (approvals of the lower level do not
    /// count there) or, past the last level, expires as denied. Returns whether anything changed.
    @discardableResult
    public mutating func enforceDeadline(policy: ReviewPolicy, at now: Date) -> Bool {
        guard !state.isFinal, now >= deadline else { return false }
        if let next = policy.policy(for: level).next {
            state = .escalated
            waitingState = .escalated
            level = next
            deadline = now.addingTimeInterval(policy.policy(for: next).deadline.seconds)
        } else {
            state = .expired
        }
        assignee = nil
        updatedAt = now
        return true
    }

    /// The requester withdraws a request that is not decided yet.
    public mutating func cancel(by actor: ReviewActor, at now: Date) throws(ReviewError) {
        guard actor.id == requester || actingFor.contains(actor.id) || actor.roles.contains("admin") else { throw .ownRequest }
        try move(to: .cancelled, at: now)
        assignee = nil
    }


    private func checkReviewer(_ reviewer: ReviewActor, policy: ReviewPolicy) throws(ReviewError) {
        guard reviewer.id != requester, !actingFor.contains(reviewer.id) else { throw .ownRequest }
        guard !reviewer.roles.isDisjoint(with: policy.policy(for: level).reviewerRoles) else { throw .notAReviewerAtThisLevel(level) }
    }

    private mutating func move(to next: ReviewState, at now: Date) throws(ReviewError) {
        guard state.canMove(to: next) else { throw .illegalTransition(from: state, to: next) }
        state = next
        updatedAt = now
    }
}
