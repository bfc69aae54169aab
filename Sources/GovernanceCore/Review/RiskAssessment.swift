import Foundation

/// One reason a request is risky, with its weight in [0, 1], shown to the reviewer.
public struct RiskFactor: Sendable, Equatable, Codable {
    public var name: String
    public var weight: Double
    public var detail: String

    public init(name: String, weight: Double, detail: String) {
        self.name = name
        self.weight = weight
        self.detail = detail
    }

    /// `{detail, name, weight}`, as every document that lists risk factors writes it.
    public func write(into object: inout CanonicalObject) {
        object.string("detail", detail)
        object.string("name", name)
        object.number("weight", weight)
    }
}

/// What the risk of a request is computed from.
public struct RiskInputs: Sendable {
    /// The rules the action matched.
    public var violations: [Violation]
    /// The action and its context as judged (`context.environment`, `context.amount`, …).
    public var input: JudgedInput
    /// The agent's recent denials and escalations.
    public var recentDenials: Int
    public var recentEscalations: Int

    public init(violations: [Violation], input: JudgedInput, recentDenials: Int = 0, recentEscalations: Int = 0) {
        self.violations = violations
        self.input = input
        self.recentDenials = recentDenials
        self.recentEscalations = recentEscalations
    }
}

/// A risk score in [0, 1] with the factors it came from.
///
/// Factors combine as independent chances of harm (a noisy OR): `1 - Π(1 - weight)`. The score
/// stays in [0, 1], never falls when a factor is added, and one strong factor is not diluted by
/// weak ones, as an average would.
public struct RiskAssessment: Sendable, Equatable, Codable {
    public var score: Double
    public var factors: [RiskFactor]

    public init(factors: [RiskFactor]) {
        self.factors = factors
        self.score = 1 - factors.reduce(1.0) { $0 * (1 - min(max($1.weight, 0), 1)) }
    }

    /// `{factors, score}`, as the stored review and the API write it.
    public func write(into object: inout CanonicalObject) {
        object.objects("factors", factors) { factor, o in factor.write(into: &o) }
        object.number("score", score)
    }

    public static func assess(_ inputs: RiskInputs) -> RiskAssessment {
        var factors: [RiskFactor] = []
        // The most severe matched rule counts fully; further rules add a little each.
        let bySeverity = inputs.violations.sorted { weight(of: $0.severity) > weight(of: $1.severity) }
        for (i, v) in bySeverity.enumerated() {
            let base = weight(of: v.severity) * (v.effect == .warn ? 0.5 : 1)
            factors.append(
                RiskFactor(name: "rule", weight: i == 0 ? base : base / 4, detail: "\(v.ruleId) (\(v.severity.rawValue), \(v.effect.rawValue))"))
        }
        let context = inputs.input.context
        if let environment = context["environment"].stringValue?.lowercased(), ["production", "prod"].contains(environment) {
            factors.append(RiskFactor(name: "production", weight: 0.25, detail: "the action runs in production"))
        }
        if let amount = context["amount"].numberValue, amount > 0 {
            let weight = amount >= 100_000 ? 0.4 : amount >= 10_000 ? 0.25 : amount >= 1_000 ? 0.1 : 0
            if weight > 0 { factors.append(RiskFactor(name: "amount", weight: weight, detail: "amount \(Int(amount))")) }
        }
        if context["irreversible"].boolValue == true || context["reversible"].boolValue == false {
            factors.append(RiskFactor(name: "irreversible", weight: 0.3, detail: "the action cannot be undone"))
        }
        if context["external"].boolValue == true || context["destination"].stringValue?.lowercased() == "external" {
            factors.append(RiskFactor(name: "external_destination", weight: 0.2, detail: "data leaves the organisation"))
        }
        if inputs.recentDenials > 0 {
            factors.append(
                RiskFactor(name: "agent_denials", weight: 0.05 * Double(min(inputs.recentDenials, 6)), detail: "\(inputs.recentDenials) recent denials"))
        }
        if inputs.recentEscalations > 0 {
            factors.append(
                RiskFactor(
                    name: "agent_escalations", weight: 0.03 * Double(min(inputs.recentEscalations, 6)),
                    detail: "\(inputs.recentEscalations) recent escalations"))
        }
        return RiskAssessment(factors: factors)
    }

    static func weight(of severity: Severity) -> Double {
        switch severity {
        case .critical: 0.6
        case .high: 0.4
        case .medium: 0.2
        case .low: 0.1
        }
    }
}
