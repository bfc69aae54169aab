import Foundation
import JWTKit

/// The claims of an ACGS-2 access token.
///
/// Every registered claim is always present: tokens without one fail to decode and are rejected as malformed.
public struct AccessClaims: JWTPayload, Sendable, Equatable {
    public var iss: IssuerClaim
    public var sub: SubjectClaim
    public var aud: AudienceClaim
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim
    public var nbf: NotBeforeClaim
    public var jti: IDClaim
    public var roles: [String]
    public var constitutionalHash: String
    /// "user" or "agent".
    public var kind: String
    /// The username or agent name.
    public var name: String

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, nbf, jti, roles, kind, name
        case constitutionalHash = "constitutional_hash"
    }

    public init(
        issuer: String, subject: String, audience: String, issuedAt: Date, expiresAt: Date, notBefore: Date? = nil,
        tokenId: String, roles: [String], constitutionalHash: String, kind: String, name: String
    ) {
        self.iss = IssuerClaim(value: issuer)
        self.sub = SubjectClaim(value: subject)
        self.aud = AudienceClaim(value: [audience])
        self.exp = ExpirationClaim(value: expiresAt)
        self.iat = IssuedAtClaim(value: issuedAt)
        self.nbf = NotBeforeClaim(value: notBefore ?? issuedAt)
        self.jti = IDClaim(value: tokenId)
        self.roles = roles
        self.constitutionalHash = constitutionalHash
        self.kind = kind
        self.name = name
    }

    public var issuer: String { iss.value }
    public var subject: String { sub.value }
    public var audience: [String] { aud.value }
    public var expiresAt: Date { exp.value }
    public var issuedAt: Date { iat.value }
    public var notBefore: Date { nbf.value }
    public var tokenId: String { jti.value }

    /// What a verifier outside ACGS-2 gets from jwt-kit (`JWTKeyCollection.verify`): expiry and not-before
    /// against the wall clock. `TokenService.verify` checks all claims itself, against an injectable clock.
    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try nbf.verifyNotBefore(currentDate: Date().addingTimeInterval(TokenService.clockLeeway))
    }
}

/// Why a token was refused. Callers should answer every case with the same 401: the cases are for logs and tests.
public enum TokenError: Error, Sendable, Equatable {
    case malformed, tooLarge, unsupportedAlgorithm, unknownKey, badSignature, expired, notYetValid, wrongIssuer, wrongAudience
}
