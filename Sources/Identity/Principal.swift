import Foundation
import GovernanceCore
import Storage

/// Who is calling: an authenticated agent or person, with the roles that authorise it.
public struct Principal: Sendable, Hashable, Codable {
    public enum Method: String, Sendable, Hashable, Codable { case accessToken = "access_token", apiKey = "api_key" }

    public let id: String
    public let kind: SubjectKind
    public let name: String
    public let roles: Set<Role>
    public var method: Method
    /// The JWT id, for access tokens.
    public var tokenId: String?
    /// The key id, for API keys.
    public var apiKeyId: String?
    public var issuedAt: Date?
    public var expiresAt: Date?
    /// The acting identity as rules see it (`agent.id`, `agent.name`, `agent.roles`, `agent.kind`),
    /// and its canonical JSON: built once per authenticated credential (the principal is cached),
    /// not once per governed request.
    public let asRuleInput: JSONValue
    public let canonicalRuleInput: String

    public init(
        id: String, kind: SubjectKind, name: String, roles: Set<Role>, method: Method, tokenId: String? = nil, apiKeyId: String? = nil,
        issuedAt: Date? = nil, expiresAt: Date? = nil
    ) {
        self.id = id
        self.kind = kind
        self.name = name
        self.roles = roles
        self.method = method
        self.tokenId = tokenId
        self.apiKeyId = apiKeyId
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        asRuleInput = .object([
            "id": .string(id), "name": .string(name), "kind": .string(kind.rawValue),
            "roles": .array(roles.map(\.rawValue).sorted().map(JSONValue.string)),
        ])
        canonicalRuleInput = CanonicalJSON.encode(asRuleInput)
    }

    public func has(anyOf wanted: Set<Role>) -> Bool { !roles.isDisjoint(with: wanted) }

    // Encoded without the derived rule input, which decoding builds again.
    private enum CodingKeys: String, CodingKey {
        case id, kind, name, roles, method, tokenId, apiKeyId, issuedAt, expiresAt
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try c.decode(String.self, forKey: .id), kind: try c.decode(SubjectKind.self, forKey: .kind),
            name: try c.decode(String.self, forKey: .name), roles: try c.decode(Set<Role>.self, forKey: .roles),
            method: try c.decode(Method.self, forKey: .method), tokenId: try c.decodeIfPresent(String.self, forKey: .tokenId),
            apiKeyId: try c.decodeIfPresent(String.self, forKey: .apiKeyId), issuedAt: try c.decodeIfPresent(Date.self, forKey: .issuedAt),
            expiresAt: try c.decodeIfPresent(Date.self, forKey: .expiresAt))
    }
}

/// Why authentication or an auth operation failed. Messages never say whether a username exists.
public enum AuthError: Error, Sendable, Equatable {
    case invalidCredentials
    case mfaRequired
    case invalidToken(String)
    case invalidRequest(String)
    case notFound(String)
    case conflict(String)
    case forbidden(String)
    /// The identity store cannot be reached: refuse (fail closed), but say it is not the caller's fault.
    case unavailable
}

/// An access token and, for people, a refresh token.
public struct TokenGrant: Sendable {
    public var accessToken: String
    public var expiresIn: Int
    public var refreshToken: String?
    public var principal: Principal
}

/// The knobs of authentication; defaults follow common practice and the deployment guide.
public struct AuthPolicy: Sendable {
    public var issuer = "acgs"
    public var audience = "acgs-api"
    public var accessTokenLifetime: Duration = .seconds(900)
    public var refreshTokenLifetime: Duration = .seconds(30 * 24 * 3600)
    public var maxFailedLogins = 5
    public var lockoutDuration: Duration = .seconds(15 * 60)
    public var bcryptCost: UInt8 = 12
    public var minimumPasswordLength = 12
    /// The guide's `jwt_validation` TTL: no validation result is cached longer, whatever the token.
    public var validationCacheCeiling: Duration = .seconds(3600)

    public init() {}
}
