/// How serious a principle or a rule is. Ordered from least to most severe.
public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
    case low, medium, high, critical

    public static func < (lhs: Severity, rhs: Severity) -> Bool {
        lhs.rank < rhs.rank
    }

    var rank: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .high: 2
        case .critical: 3
        }
    }
}

/// What a matching rule does to the decision.
public enum Effect: String, Sendable, Codable, CaseIterable {
    case deny, escalate, warn
}

public struct Principle: Sendable, Codable, Hashable {
    public var id: String
    public var title: String
    public var description: String
    public var category: String
    public var severity: Severity

    public init(id: String, title: String, description: String, category: String, severity: Severity) {
        self.id = id
        self.title = title
        self.description = description
        self.category = category
        self.severity = severity
    }
}

/// A rule as written: its condition is source text in the rule language.
public struct RuleDefinition: Sendable, Codable, Hashable {
    public var id: String
    public var principle: String
    public var effect: Effect
    public var severity: Severity
    public var message: String
    public var condition: String
    public var recommendation: String?

    public init(
        id: String, principle: String, effect: Effect, severity: Severity, message: String, condition: String,
        recommendation: String? = nil
    ) {
        self.id = id
        self.principle = principle
        self.effect = effect
        self.severity = severity
        self.message = message
        self.condition = condition
        self.recommendation = recommendation
    }
}

/// A constitution document: metadata, principles and rules, as read from YAML or JSON.
public struct ConstitutionDocument: Sendable, Hashable {
    public var name: String
    public var version: String
    public var description: String
    /// The hash of the constitution this one amends, if any; part of the identity of an amendment.
    public var parentHash: String?
    /// The hash the document claims for itself, if any; checked against its content when loaded.
    public var declaredHash: String?
    public var principles: [Principle]
    public var rules: [RuleDefinition]

    public init(
        name: String, version: String, description: String = "", parentHash: String? = nil,
        declaredHash: String? = nil, principles: [Principle], rules: [RuleDefinition]
    ) {
        self.name = name
        self.version = version
        self.description = description
        self.parentHash = parentHash
        self.declaredHash = declaredHash
        self.principles = principles
        self.rules = rules
    }

    /// The canonical JSON form that the digest is taken over. The declared hash is left out: it is a
    /// claim about the content, not part of it.
    public var canonicalValue: JSONValue {
        var metadata: [String: JSONValue] = [
            "name": .string(name), "version": .string(version), "description": .string(description),
        ]
        if let parentHash { metadata["parent_hash"] = .string(parentHash) }
        return .object([
            "metadata": .object(metadata),
            "principles": .array(
                principles.map { p in
                    .object([
                        "id": .string(p.id), "title": .string(p.title), "description": .string(p.description),
                        "category": .string(p.category), "severity": .string(p.severity.rawValue),
                    ])
                }),
            "rules": .array(
                rules.map { r in
                    var fields: [String: JSONValue] = [
                        "id": .string(r.id), "principle": .string(r.principle), "effect": .string(r.effect.rawValue),
                        "severity": .string(r.severity.rawValue), "message": .string(r.message),
                        "condition": .string(r.condition),
                    ]
                    if let rec = r.recommendation { fields["recommendation"] = .string(rec) }
                    return .object(fields)
                }),
        ])
    }

    public var canonicalJSON: String { CanonicalJSON.encode(canonicalValue) }
}

/// Who a constitution is: the short hash that requests pin, and the full digest of its content.
public struct ConstitutionIdentity: Sendable, Hashable, Codable {
    /// 16 hex digits, carried in `X-Constitutional-Hash`.
    public let hash: String
    /// SHA-256 of the canonical JSON form, 64 hex digits.
    public let digest: String

    public init(hash: String, digest: String) {
        self.hash = hash
        self.digest = digest
    }

    /// The identity of a document. The reference constitution keeps the guide's hash; an amendment's
    /// hash is derived from its parent's hash and its own digest, so it changes with every change of
    /// the rules; any other document is named by the start of its digest.
    public static func of(_ document: ConstitutionDocument) -> ConstitutionIdentity {
        let digest = CanonicalJSON.sha256Hex(document.canonicalValue)
        if digest == ReferenceConstitution.pinnedDigest {
            return ConstitutionIdentity(hash: ReferenceConstitution.hash, digest: digest)
        }
        if let parent = document.parentHash {
            let derived = Digest.sha256Hex("\(parent):\(digest)")
            return ConstitutionIdentity(hash: String(derived.prefix(16)), digest: digest)
        }
        return ConstitutionIdentity(hash: String(digest.prefix(16)), digest: digest)
    }
}
