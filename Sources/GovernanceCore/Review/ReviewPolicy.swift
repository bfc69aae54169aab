import Foundation

/// Where a review request waits, and who may decide it there.
public enum EscalationLevel: String, Sendable, CaseIterable, Codable, Comparable {
    case technicalReview = "technical_review"
    case policyManager = "policy_manager"
    case constitutionalCouncil = "constitutional_council"
    case emergencyResponse = "emergency_response"

    private var rank: Int {
        switch self {
        case .technicalReview: 0
        case .policyManager: 1
        case .constitutionalCouncil: 2
        case .emergencyResponse: 3
        }
    }

    public static func < (a: EscalationLevel, b: EscalationLevel) -> Bool { a.rank < b.rank }
}

/// How urgent the requester says the request is.
public enum ReviewUrgency: String, Sendable, CaseIterable, Codable {
    case low, normal, high, critical
}

/// The rules of one escalation level: who reviews, how many approvals it takes, how long they have,
/// and where an overdue request goes next (nil: it expires, denied).
public struct LevelPolicy: Sendable, Equatable {
    /// Role names (`reviewer`, `policy_author`, `council_member`, `admin`, …) admitted to review.
    public var reviewerRoles: Set<String>
    /// Distinct reviewers who must approve.
    public var approvalsRequired: Int
    public var deadline: Duration
    public var next: EscalationLevel?

    public init(reviewerRoles: Set<String>, approvalsRequired: Int, deadline: Duration, next: EscalationLevel?) {
        self.reviewerRoles = reviewerRoles
        self.approvalsRequired = approvalsRequired
        self.deadline = deadline
        self.next = next
    }
}

/// The configuration of human review: the fast lane, the routing thresholds and every level.
public struct ReviewPolicy: Sendable, Equatable {
    /// Requests whose risk is below this are approved at once (the fast lane).
    public var fastLaneThreshold: Double
    /// Risk from which a request goes to the policy managers, and to the council.
    public var policyManagerThreshold: Double
    public var councilThreshold: Double
    public var levels: [EscalationLevel: LevelPolicy]

    public init(
        fastLaneThreshold: Double = 0.3, policyManagerThreshold: Double = 0.55, councilThreshold: Double = 0.8,
        levels: [EscalationLevel: LevelPolicy] = ReviewPolicy.defaultLevels
    ) {
        self.fastLaneThreshold = fastLaneThreshold
        self.policyManagerThreshold = policyManagerThreshold
        self.councilThreshold = councilThreshold
        self.levels = levels
    }

    /// Technical review, then the policy managers, then the council (a quorum of two); emergencies
    /// have two minutes. Past the council or an emergency, a request expires denied.
    public static let defaultLevels: [EscalationLevel: LevelPolicy] = [
        .technicalReview: LevelPolicy(reviewerRoles: ["reviewer", "admin"], approvalsRequired: 1, deadline: .seconds(15 * 60), next: .policyManager),
        .policyManager: LevelPolicy(reviewerRoles: ["policy_author", "admin"], approvalsRequired: 1, deadline: .seconds(60 * 60), next: .constitutionalCouncil),
        .constitutionalCouncil: LevelPolicy(reviewerRoles: ["council_member"], approvalsRequired: 2, deadline: .seconds(30 * 60), next: nil),
        .emergencyResponse: LevelPolicy(reviewerRoles: ["reviewer", "admin"], approvalsRequired: 1, deadline: .seconds(2 * 60), next: nil),
    ]

    public func policy(for level: EscalationLevel) -> LevelPolicy {
        levels[level] ?? Self.defaultLevels[level]!
    }

    /// Where a request with this risk and urgency goes; nil for the fast lane. An action the
    /// constitution escalates or denies (`ruledByConstitution`) always waits for a person, however low
    /// its risk: the fast lane approves only what the rules would allow, or an escalation would end in
    /// an approval nobody gave.
    public func route(risk: Double, urgency: ReviewUrgency, ruledByConstitution: Bool = false) -> EscalationLevel? {
        if urgency == .critical { return .emergencyResponse }
        if risk < fastLaneThreshold { return ruledByConstitution ? .technicalReview : nil }
        if risk >= councilThreshold { return .constitutionalCouncil }
        if risk >= policyManagerThreshold { return .policyManager }
        return .technicalReview
    }
}
