/// The input a constitution judges: the action an agent wants to take, its content and context, and
/// the acting agent (taken from its credentials, never from the request body).
public struct JudgedInput: Sendable, Hashable {
    public var action: JSONValue
    public var content: JSONValue
    public var context: JSONValue
    public var agent: JSONValue

    public init(action: JSONValue = .null, content: JSONValue = .null, context: JSONValue = .null, agent: JSONValue = .null) {
        self.action = action
        self.content = content
        self.context = context
        self.agent = agent
    }

    public func value(of root: InputRoot) -> JSONValue {
        switch root {
        case .action: action
        case .content: content
        case .context: context
        case .agent: agent
        case .input: .object(["action": action, "content": content, "context": context])
        }
    }

    /// The canonical JSON of everything a decision depends on, for cache keys and audit digests.
    public var canonicalValue: JSONValue {
        .object(["action": action, "content": content, "context": context, "agent": agent])
    }
}

/// The outcome of judging an input.
public enum Outcome: String, Sendable, Codable, Hashable {
    case allow, deny, escalate
}

/// What a rule matched on: the field and the matched text, with secrets and personal data masked.
public struct Evidence: Sendable, Codable, Hashable {
    public var field: String
    public var match: String
    public var detector: String?

    public init(field: String, match: String, detector: String? = nil) {
        self.field = field
        self.match = match
        self.detector = detector
    }
}

/// A rule that matched, with its evidence.
public struct Violation: Sendable, Codable, Hashable {
    public var ruleId: String
    public var principleId: String
    public var severity: Severity
    public var effect: Effect
    public var message: String
    public var evidence: [Evidence]

    enum CodingKeys: String, CodingKey {
        case ruleId = "rule_id"
        case principleId = "principle_id"
        case severity, effect, message, evidence
    }
}

/// The full judgement of one input under one constitution: deterministic, so cacheable.
public struct Evaluation: Sendable, Hashable, Codable {
    public var outcome: Outcome
    /// Every matching rule in constitution order: denials, escalations and warnings.
    public var violations: [Violation]
    public var score: Double
    public var violatedPrinciples: [String]
    public var reasoning: String
    public var recommendations: [String]

    public var compliant: Bool { outcome == .allow }
}
