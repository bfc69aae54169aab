/// How matched rules combine into a decision: any deny denies; otherwise any escalate escalates;
/// otherwise allow, with warnings reported.
enum Judgement {
    /// Combines the violations found, each beside the rule (`rules`, same order) it breaks, into an
    /// evaluation. Citations and recommendations are written once per rule when the constitution is
    /// compiled, not once per decision.
    static func combine(_ violations: [Violation], of rules: [CompiledRule], under: String, cleanReasoning: String) -> Evaluation {
        if violations.isEmpty {
            return Evaluation(outcome: .allow, violations: [], score: 1, violatedPrinciples: [], reasoning: cleanReasoning, recommendations: [])
        }
        let outcome: Outcome =
            violations.contains { $0.effect == .deny } ? .deny : (violations.contains { $0.effect == .escalate } ? .escalate : .allow)
        var penalty = 0.0
        for v in violations { penalty += weight(v.severity) * factor(v.effect) }
        let score = (max(0, 1 - penalty) * 10_000).rounded() / 10_000

        var principles: [String] = []
        for v in violations where v.effect != .warn && !principles.contains(v.principleId) {
            principles.append(v.principleId)
        }
        var recommendations: [String] = []
        for rule in rules where !recommendations.contains(rule.recommendation) {
            recommendations.append(rule.recommendation)
        }
        let cited = { (effect: Effect) in rules.filter { $0.definition.effect == effect }.map(\.citation).joined(separator: "; ") }
        return Evaluation(
            outcome: outcome, violations: violations, score: score, violatedPrinciples: principles,
            reasoning: reasoning(outcome, hasWarnings: violations.contains { $0.effect == .warn }, cited: cited, under: under),
            recommendations: recommendations)
    }

    static func weight(_ s: Severity) -> Double {
        switch s {
        case .critical: 1.0
        case .high: 0.6
        case .medium: 0.3
        case .low: 0.1
        }
    }

    static func factor(_ e: Effect) -> Double {
        switch e {
        case .deny: 1.0
        case .escalate: 0.5
        case .warn: 0.2
        }
    }

    static func defaultRecommendation(_ rule: RuleDefinition) -> String {
        switch rule.effect {
        case .deny: "Do not perform this action as requested; change it so that rule \(rule.id) no longer applies."
        case .escalate: "Hold the action until a human reviewer approves it."
        case .warn: "Proceed with care: \(rule.message)."
        }
    }

    static func citation(_ rule: RuleDefinition) -> String { "\(rule.id) (\(rule.principle)): \(rule.message)" }

    static func under(_ c: ConstitutionDocument) -> String { "under \(c.name) \(c.version)" }

    static func reasoning(_ outcome: Outcome, hasWarnings: Bool, cited: (Effect) -> String, under: String) -> String {
        let warnings = hasWarnings ? " Warnings: \(cited(.warn))." : ""
        switch outcome {
        case .allow:
            return hasWarnings ? "Allowed \(under) with warnings.\(warnings)" : "Allowed: no rule \(under) matched."
        case .deny:
            return "Denied \(under): \(cited(.deny))."
        case .escalate:
            return "Escalated for human review \(under): \(cited(.escalate))."
        }
    }
}
