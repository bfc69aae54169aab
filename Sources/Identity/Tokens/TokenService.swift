import Crypto
import Foundation
import GovernanceCore
import JWTKit

/// Issues and verifies ACGS-2 access tokens: compact JWS, EdDSA (Ed25519), with the signing key's `kid` in the header.
public final class TokenService: Sendable {
    /// Longer tokens are refused before any parsing.
    public static let maxTokenBytes = 8 * 1024
    /// Tolerated clock skew for `nbf` and `iat` in the future.
    public static let clockLeeway: TimeInterval = 60

    public let keys: SigningKeyStore
    public let issuer: String
    public let audience: String
    public let lifetime: Duration

    public init(keys: SigningKeyStore, issuer: String, audience: String, lifetime: Duration = .seconds(900)) async {
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
    }

    /// Signs claims for a subject with the active key; returns the compact JWT and its claims (jti random, 128 bits).
    public func issue(
        subject: String, kind: String, name: String, roles: [String], constitutionalHash: String, now: Date = Date()
    ) async throws -> (token: String, claims: AccessClaims) {
        // NumericDate is whole seconds in practice; truncating keeps the claims equal to what a verifier decodes.
        let issuedAt = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        let claims = AccessClaims(
            issuer: issuer, subject: subject, audience: audience, issuedAt: issuedAt,
            expiresAt: issuedAt.addingTimeInterval(lifetime.seconds.rounded(.down)), tokenId: Self.newTokenId(),
            roles: roles, constitutionalHash: constitutionalHash, kind: kind, name: name)
        let signer = await keys.signer()
        let token = try await signer.keys.sign(claims, kid: JWKIdentifier(string: signer.kid))
        return (token, claims)
    }

    /// Verifies a compact JWT: at most 8 KiB; header alg must be exactly "EdDSA" (anything else, including "none"
    /// and "HS256", is `unsupportedAlgorithm`); `kid` must name a known, non-pruned key; signature; exp (expired),
    /// nbf/iat in the future beyond 60 s leeway (notYetValid); iss; aud. Typed errors as above.
    ///
    /// The header is checked here rather than by jwt-kit, whose key collection falls back to its default key
    /// for an unknown `kid` and takes the algorithm from the key, not the header.
    public func verify(_ token: String, now: Date = Date()) async throws(TokenError) -> AccessClaims {
        guard token.utf8.count <= Self.maxTokenBytes else { throw .tooLarge }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerJSON = TokenBase64URL.decode(parts[0]), let payload = TokenBase64URL.decode(parts[1]),
            let signature = TokenBase64URL.decode(parts[2]),
            let header = try? JSONDecoder().decode(VerifiedHeader.self, from: headerJSON)
        else { throw .malformed }

        guard header.alg == "EdDSA" else { throw .unsupportedAlgorithm }
        // Critical extensions we do not implement must make the token invalid (RFC 7515 §4.1.11).
        guard header.crit == nil else { throw .malformed }
        guard let kid = header.kid, let publicKey = await keys.verificationKeyReloadingIfUnknown(for: kid) else { throw .unknownKey }

        let signingInput = Data(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard publicKey.isValidSignature(signature, for: signingInput) else { throw .badSignature }

        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        guard let claims = try? decoder.decode(AccessClaims.self, from: payload) else { throw .malformed }

        guard now < claims.expiresAt else { throw .expired }
        let latestAcceptable = now.addingTimeInterval(Self.clockLeeway)
        guard claims.notBefore <= latestAcceptable, claims.issuedAt <= latestAcceptable else { throw .notYetValid }
        guard claims.issuer == issuer else { throw .wrongIssuer }
        guard claims.audience.contains(audience) else { throw .wrongAudience }
        return claims
    }

    /// Reloads keys after `acgs keys rotate` ran in another process (re-reads the directory).
    public func reloadKeys() async throws {
        try await keys.reload()
    }

    /// 128 random bits, base64url.
    static func newTokenId() -> String {
        var generator = SystemRandomNumberGenerator()
        let words = [generator.next(), generator.next()] as [UInt64]
        return TokenBase64URL.encode(words.flatMap { word in (0..<8).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) } })
    }
}

/// The header fields verification looks at; others are ignored.
private struct VerifiedHeader: Decodable {
    let alg: String
    let kid: String?
    let crit: [String]?
}
