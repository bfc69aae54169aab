import Crypto
import Foundation
import JWTKit
import Synchronization
import Testing

@testable import Identity

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A clock the test moves by hand.
private final class TokenTestClock: Sendable {
    private let current: Mutex<Date>
    init(_ start: Date) { current = Mutex(start) }
    var now: Date { current.withLock { $0 } }
    func advance(by seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// Fixtures as protocol members rather than globals, so they cannot clash with other test files of the module.
private protocol TokenTestSupport {}

extension TokenTestSupport {
    var issuer: String { "acgs" }
    var audience: String { "acgs-api" }
    var hash: String { "cdd01ef066bc6cf2" }

    /// A fresh key directory under the system temporary directory.
    func temporaryKeyDirectory() -> String {
        FileManager.default.temporaryDirectory.path + "/acgs-token-tests-" + UUID().uuidString + "/keys"
    }

    func removeTree(_ keyDirectory: String) {
        try? FileManager.default.removeItem(atPath: (keyDirectory as NSString).deletingLastPathComponent)
    }

    func makeService(
        directory: String? = nil, issuer: String? = nil, audience: String? = nil, retiredKeyLifetime: Duration = .seconds(900),
        clock: TokenTestClock? = nil
    ) async throws -> TokenService {
        let directory = directory ?? temporaryKeyDirectory()
        let store: SigningKeyStore
        if let clock {
            store = try await SigningKeyStore(directory: directory, retiredKeyLifetime: retiredKeyLifetime, now: { clock.now })
        } else {
            store = try await SigningKeyStore(directory: directory, retiredKeyLifetime: retiredKeyLifetime)
        }
        return await TokenService(keys: store, issuer: issuer ?? self.issuer, audience: audience ?? self.audience)
    }

    func issue(_ service: TokenService, roles: [String] = ["agent"], now: Date = Date()) async throws -> (token: String, claims: AccessClaims) {
        try await service.issue(subject: "agt_1", kind: "agent", name: "planner", roles: roles, constitutionalHash: hash, now: now)
    }

    /// Signs arbitrary claims with the store's active key, as a bug or an attacker holding the key could.
    func sign(_ claims: AccessClaims, with store: SigningKeyStore, includeKid: Bool = true) async throws -> String {
        let signer = await store.signer()
        return try await signer.keys.sign(claims, kid: includeKid ? JWKIdentifier(string: signer.kid) : nil)
    }

    func claims(issuedAt: Date, notBefore: Date? = nil) -> AccessClaims {
        AccessClaims(
            issuer: issuer, subject: "usr_1", audience: audience, issuedAt: issuedAt, expiresAt: issuedAt.addingTimeInterval(900),
            notBefore: notBefore, tokenId: TokenService.newTokenId(), roles: ["viewer"], constitutionalHash: hash, kind: "user",
            name: "alice")
    }

    func json(_ part: Substring) throws -> [String: Any] {
        let data = try #require(TokenBase64URL.decode(part))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func parts(_ token: String) -> [Substring] { token.split(separator: ".", omittingEmptySubsequences: false) }

    func b64(_ text: String) -> String { TokenBase64URL.encode(Data(text.utf8)) }

    func mode(_ path: String) -> mode_t {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return info.st_mode & 0o777
    }

    func expectError(
        _ expected: TokenError, _ service: TokenService, _ token: String, now: Date = Date(), sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        do {
            _ = try await service.verify(token, now: now)
            Issue.record("expected \(expected), token verified", sourceLocation: sourceLocation)
        } catch {
            #expect(error == expected, sourceLocation: sourceLocation)
        }
    }
}

@Suite("Access tokens")
struct TokenVerificationTests: TokenTestSupport {
    @Test func roundTrip() async throws {
        let service = try await makeService()
        defer { removeTree(service.keys.directory) }
        let (token, issued) = try await issue(service, roles: ["agent", "auditor"])
        let verified = try await service.verify(token)
        #expect(verified == issued)
        #expect(verified.subject == "agt_1")
        #expect(verified.roles == ["agent", "auditor"])
        #expect(verified.kind == "agent")
        #expect(verified.name == "planner")
        #expect(verified.constitutionalHash == hash)
        #expect(verified.expiresAt.timeIntervalSince(verified.issuedAt) == 900)
    }

    @Test func claimsAndHeaderArePresent() async throws {
        let service = try await makeService()
        defer { removeTree(service.keys.directory) }
        let now = Date(timeIntervalSince1970: 1_750_000_000.75)
        let (token, issued) = try await issue(service, now: now)
        let pieces = parts(token)
        #expect(pieces.count == 3)

        let header = try json(pieces[0])
        #expect(header["alg"] as? String == "EdDSA")
        #expect(header["typ"] as? String == "JWT")
        #expect(header["kid"] as? String == (await service.keys.activeKeyId))

        let payload = try json(pieces[1])
        #expect(payload["iss"] as? String == issuer)
        #expect(payload["sub"] as? String == "agt_1")
        #expect(payload["aud"] as? String == audience)
        #expect(payload["roles"] as? [String] == ["agent"])
        #expect(payload["constitutional_hash"] as? String == hash)
        #expect(payload["kind"] as? String == "agent")
        #expect(payload["name"] as? String == "planner")
        #expect((payload["iat"] as? NSNumber)?.int64Value == 1_750_000_000)
        #expect((payload["nbf"] as? NSNumber)?.int64Value == 1_750_000_000)
        #expect((payload["exp"] as? NSNumber)?.int64Value == 1_750_000_900)
        // NumericDate as an integer, not "1750000000.0".
        let rawPayload = String(decoding: try #require(TokenBase64URL.decode(pieces[1])), as: UTF8.self)
        #expect(rawPayload.contains("\"exp\":1750000900") && !rawPayload.contains("1750000900."))
        let jti = try #require(payload["jti"] as? String)
        #expect(TokenBase64URL.decode(jti)?.count == 16)
        #expect(jti == issued.tokenId)

        let (_, other) = try await issue(service, now: now)
        #expect(other.tokenId != issued.tokenId)
    }

    @Test func expired() async throws {
        let service = try await makeService()
        defer { removeTree(service.keys.directory) }
        let now = Date()
        let (token, _) = try await issue(service, now: now)
        _ = try await service.verify(token, now: now.addingTimeInterval(899))
        await expectError(.expired, service, token, now: now.addingTimeInterval(900))
        await expectError(.expired, service, token, now: now.addingTimeInterval(86_400))
    }

    @Test func notYetValid() async throws {
        let service = try await makeService()
        defer { removeTree(service.keys.directory) }
        let now = Date()
        // Issued two minutes ahead: beyond the 60 s leeway.
        let (ahead, _) = try await issue(service, now: now.addingTimeInterval(120))
        await expectError(.notYetValid, service, ahead, now: now)
        // Within the leeway, clock skew is tolerated.
        let (skewed, _) = try await issue(service, now: now.addingTimeInterval(30))
        _ = try await service.verify(skewed, now: now)
        // nbf alone in the future, iat now.
        let futureNbf = try await sign(claims(issuedAt: now, notBefore: now.addingTimeInterval(300)), with: service.keys)
        await expectError(.notYetValid, service, futureNbf, now: now)
        // iat alone in the future, nbf now.
        let futureIat = try await sign(claims(issuedAt: now.addingTimeInterval(300), notBefore: now), with: service.keys)
        await expectError(.notYetValid, service, futureIat, now: now)
    }

    @Test func wrongAudienceAndIssuer() async throws {
        let directory = temporaryKeyDirectory()
        defer { removeTree(directory) }
        let service = try await makeService(directory: directory)
        let otherAudience = await TokenService(keys: service.keys, issuer: issuer, audience: "another-api")
        let otherIssuer = await TokenService(keys: service.keys, issuer: "someone-else", audience: audience)
        let (forOther, _) = try await issue(otherAudience)
        await expectError(.wrongAudience, service, forOther)
        let (fromOther, _) = try await issue(otherIssuer)
        await expectError(.wrongIssuer, service, fromOther)
    }

    @Test func unknownKey() async throws {
        let service = try await makeService()
        let stranger = try await makeService()
        defer {
            removeTree(service.keys.directory)
            removeTree(stranger.keys.directory)
        }
        let (token, _) = try await issue(stranger)
        await expectError(.unknownKey, service, token)
        // Right key, but no kid in the header: jwt-kit would fall back to its default key; we do not.
        let withoutKid = try await sign(claims(issuedAt: Date()), with: service.keys, includeKid: false)
        #expect(try json(parts(withoutKid)[0])["kid"] == nil)
        await expectError(.unknownKey, service, withoutKid)
    }

    @Test func algNoneIsRefused() async throws {
        let service = try await makeService()
        defer { removeTree(service.keys.directory) }
        let (token, _) = try await issue(service)
        let payload = parts(token)[1]
        await expectError(.unsupportedAlgorithm, service, b64(#"{"alg":"none","typ":"JWT"}"#) + "." + payload + ".")
        let kid = await service.keys.activeKeyId
        await expectError(.unsupportedAlgorithm, service, b64(#"{"alg":"none","kid":"\#(kid)"}"#) + "." + payload + ".")
        // Case variants and a missing alg are no better.
        await expectError(.unsupportedAlgorithm, service, b64(#"{"alg":"eddsa","kid":"\#(kid)"}"#) + "." + payload + "." + parts(token)[2])
        await expectError(.malformed, service, b64(#"{"kid":"\#(kid)"}"#) + "." + payload + "." + parts(token)[2])
    }

    @Test func hs256WithPublicKeyAsSecretIsRefused() async throws {
        let service = try await makeService()
        defer { removeTree(service.keys.directory) }
        let (token, _) = try await issue(service)
        let key = try #require(await service.keys.publicKeys().first)
        let publicKey = try #require(TokenBase64URL.decode(key.publicKeyBase64URL))
        for secret in [publicKey, Data(key.publicKeyBase64URL.utf8)] {
            let signingInput = b64(#"{"alg":"HS256","typ":"JWT","kid":"\#(key.kid)"}"#) + "." + parts(token)[1]
            let mac = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: SymmetricKey(data: secret))
            await expectError(.unsupportedAlgorithm, service, signingInput + "." + TokenBase64URL.encode(Data(mac)))
        }
    }

    @Test func tamperedPayload() async throws {
        let service = try await makeService()
        defer { removeTree(service.keys.directory) }
        let (token, _) = try await issue(service, roles: ["viewer"])
        let pieces = parts(token)
        var payload = try json(pieces[1])
        payload["roles"] = ["admin"]
        let forged = try JSONSerialization.data(withJSONObject: payload)
        await expectError(.badSignature, service, pieces[0] + "." + TokenBase64URL.encode(forged) + "." + pieces[2])
    }

    @Test func tamperedSignature() async throws {
        let service = try await makeService()
        defer { removeTree(service.keys.directory) }
        let (token, _) = try await issue(service)
        let pieces = parts(token)
        var signature = try #require(TokenBase64URL.decode(pieces[2]))
        #expect(signature.count == 64)
        signature[0] ^= 0x01
        await expectError(.badSignature, service, pieces[0] + "." + pieces[1] + "." + TokenBase64URL.encode(signature))
        await expectError(.badSignature, service, pieces[0] + "." + pieces[1] + "." + TokenBase64URL.encode(signature.prefix(32)))
        await expectError(.badSignature, service, pieces[0] + "." + pieces[1] + ".")
    }

    @Test func garbageIsMalformed() async throws {
        let service = try await makeService()
        defer { removeTree(service.keys.directory) }
        let (token, _) = try await issue(service)
        let pieces = parts(token)
        let (h, p, sig) = (String(pieces[0]), String(pieces[1]), String(pieces[2]))
        let garbage: [String] = [
            "", "garbage", ".", "..", "...", "Bearer \(token)", "a.b", "a.b.c", "a.b.c.d",
            "\(h).\(p)",  // two parts
            "\(token).\(sig)",  // four parts
            "@@@.\(p).\(sig)",  // non-base64 header
            "\(h).***.\(sig)",  // non-base64 payload
            "\(h).\(p).!!!",  // non-base64 signature
            "\(h)=.\(p).\(sig)",  // padding is not base64url
            "\(b64("not json")).\(p).\(sig)",
            "\(b64(#"["EdDSA"]"#)).\(p).\(sig)",
            " \(token)", "\(token)\n",
        ]
        for candidate in garbage {
            await expectError(.malformed, service, candidate)
        }
    }

    @Test func validlySignedNonsenseIsMalformed() async throws {
        let service = try await makeService()
        defer { removeTree(service.keys.directory) }
        let signer = await service.keys.signer()
        struct Other: JWTPayload {
            var sub: String
            func verify(using algorithm: some JWTAlgorithm) async throws {}
        }
        let token = try await signer.keys.sign(Other(sub: "x"), kid: JWKIdentifier(string: signer.kid))
        await expectError(.malformed, service, token)
        let critical = b64(#"{"alg":"EdDSA","kid":"\#(signer.kid)","crit":["exp"]}"#)
        await expectError(.malformed, service, critical + "." + parts(token)[1] + "." + parts(token)[2])
    }

    @Test func oversizedTokensAreRefusedFirst() async throws {
        let service = try await makeService()
        defer { removeTree(service.keys.directory) }
        let roles = (0..<800).map { "role-\($0)" }
        let (big, _) = try await issue(service, roles: roles)
        #expect(big.utf8.count > TokenService.maxTokenBytes)
        await expectError(.tooLarge, service, big)
        await expectError(.tooLarge, service, String(repeating: "a", count: 8 * 1024 + 1))
        let (small, _) = try await issue(service, roles: Array(roles.prefix(20)))
        _ = try await service.verify(small)
    }
}

@Suite("Signing keys")
struct SigningKeyTests: TokenTestSupport {
    @Test func rotationKeepsOldTokensValid() async throws {
        let service = try await makeService()
        defer { removeTree(service.keys.directory) }
        let oldKid = await service.keys.activeKeyId
        let (before, _) = try await issue(service)

        let newKid = try await service.keys.rotate()
        #expect(newKid != oldKid)
        #expect(await service.keys.activeKeyId == newKid)
        _ = try await service.verify(before)

        let (after, _) = try await issue(service)
        #expect(try json(parts(after)[0])["kid"] as? String == newKid)
        _ = try await service.verify(after)

        let keys = await service.keys.publicKeys()
        #expect(keys.map { $0.kid } == [newKid, oldKid])
        #expect(keys[0].retiredAt == nil)
        #expect(keys[1].retiredAt != nil)

        // The retired key's file keeps only the public half.
        let file = service.keys.directory + "/" + SigningKeyStore.fileName(for: oldKid)
        let stored = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        #expect(stored["private_key"] == nil)
        #expect(stored["retired_at"] != nil)
    }

    @Test func retiredKeysArePrunedAfterTheirLifetime() async throws {
        let clock = TokenTestClock(Date(timeIntervalSince1970: 1_750_000_000))
        let service = try await makeService(retiredKeyLifetime: .seconds(900), clock: clock)
        defer { removeTree(service.keys.directory) }
        let oldKid = await service.keys.activeKeyId
        let issuedAt = clock.now
        let (before, _) = try await issue(service, now: issuedAt)
        try await service.keys.rotate()
        let oldFile = service.keys.directory + "/" + SigningKeyStore.fileName(for: oldKid)

        clock.advance(by: 899)
        _ = try await service.verify(before, now: issuedAt.addingTimeInterval(10))
        #expect(await service.keys.publicKeys().count == 2)

        clock.advance(by: 1)
        await expectError(.unknownKey, service, before, now: issuedAt.addingTimeInterval(10))
        #expect(await service.keys.publicKeys().count == 1)
        #expect(!(await service.keys.jwks()).contains(oldKid))
        // The unknown kid made the store read its directory again, which prunes as it loads.
        try await service.keys.prune()
        #expect(!FileManager.default.fileExists(atPath: oldFile))
    }

    @Test func loadingPrunesExpiredKeys() async throws {
        let clock = TokenTestClock(Date(timeIntervalSince1970: 1_750_000_000))
        let directory = temporaryKeyDirectory()
        defer { removeTree(directory) }
        let first = try await SigningKeyStore(directory: directory, retiredKeyLifetime: .seconds(60), now: { clock.now })
        let oldKid = await first.activeKeyId
        try await first.rotate()
        clock.advance(by: 61)
        let second = try await SigningKeyStore(directory: directory, retiredKeyLifetime: .seconds(60), now: { clock.now })
        #expect(await second.publicKeys().map { $0.kid } == [await first.activeKeyId])
        #expect(!FileManager.default.fileExists(atPath: directory + "/" + SigningKeyStore.fileName(for: oldKid)))
    }

    @Test func keysPersistAcrossStores() async throws {
        let directory = temporaryKeyDirectory()
        defer { removeTree(directory) }
        let first = try await makeService(directory: directory)
        let (token, _) = try await issue(first)
        try await first.keys.rotate()
        let second = try await makeService(directory: directory)
        #expect(await second.keys.activeKeyId == (await first.keys.activeKeyId))
        #expect(await second.keys.publicKeys().map { $0.kid } == (await first.keys.publicKeys().map { $0.kid }))
        _ = try await second.verify(token)
        let (fresh, _) = try await issue(second)
        _ = try await first.verify(fresh)
    }

    @Test func filesAreOwnerOnly() async throws {
        let directory = temporaryKeyDirectory()
        defer { removeTree(directory) }
        let service = try await makeService(directory: directory)
        try await service.keys.rotate()
        #expect(mode(directory) == 0o700)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(names.count == 2)
        #expect(names.allSatisfy { $0.hasPrefix("ed25519-") && $0.hasSuffix(".json") })
        for name in names {
            #expect(mode(directory + "/" + name) == 0o600)
        }
    }

    @Test func looseExistingPermissionsAreTightened() async throws {
        let directory = temporaryKeyDirectory()
        defer { removeTree(directory) }
        let service = try await makeService(directory: directory)
        let file = directory + "/" + SigningKeyStore.fileName(for: await service.keys.activeKeyId)
        #expect(chmod(directory, 0o755) == 0)
        #expect(chmod(file, 0o644) == 0)
        let reopened = try await makeService(directory: directory)
        #expect(await reopened.keys.activeKeyId == (await service.keys.activeKeyId))
        #expect(mode(directory) == 0o700)
        #expect(mode(file) == 0o600)
    }

    @Test func corruptKeyFilesAreReported() async throws {
        let directory = temporaryKeyDirectory()
        defer { removeTree(directory) }
        let service = try await makeService(directory: directory)
        let kid = await service.keys.activeKeyId
        let file = directory + "/" + SigningKeyStore.fileName(for: kid)
        let renamed = directory + "/" + SigningKeyStore.fileName(for: String(kid.reversed()))
        #expect(rename(file, renamed) == 0)
        await #expect(throws: SigningKeyStoreError.corruptKeyFile(renamed)) {
            _ = try await SigningKeyStore(directory: directory, retiredKeyLifetime: .seconds(900))
        }
        try Data("{".utf8).write(to: URL(fileURLWithPath: renamed))
        await #expect(throws: SigningKeyStoreError.corruptKeyFile(renamed)) {
            _ = try await SigningKeyStore(directory: directory, retiredKeyLifetime: .seconds(900))
        }
    }

    @Test func reloadPicksUpRotationByAnotherProcess() async throws {
        let directory = temporaryKeyDirectory()
        defer { removeTree(directory) }
        let server = try await makeService(directory: directory)
        let (serverToken, _) = try await issue(server)
        // The CLI: its own store on the same directory.
        let cli = try await makeService(directory: directory)
        let newKid = try await cli.keys.rotate()
        let (cliToken, _) = try await issue(cli)

        // A kid it does not know makes the server read the directory again (replicas share it), so
        // the new key's token verifies at once, and the new key signs from then on.
        _ = try await server.verify(cliToken)
        #expect(await server.keys.activeKeyId == newKid)
        _ = try await server.verify(serverToken)
        let (next, _) = try await issue(server)
        #expect(try json(parts(next)[0])["kid"] as? String == newKid)
    }

    @Test func interruptedRotationResolvesToNewestKey() async throws {
        let clock = TokenTestClock(Date(timeIntervalSince1970: 1_750_000_000))
        let first = temporaryKeyDirectory()
        let second = temporaryKeyDirectory()
        defer {
            removeTree(first)
            removeTree(second)
        }
        // Two unretired keys, as after a crash between writing the new key and retiring the old one.
        let older = try await SigningKeyStore(directory: first, retiredKeyLifetime: .seconds(900), now: { clock.now })
        clock.advance(by: 10)
        let newer = try await SigningKeyStore(directory: second, retiredKeyLifetime: .seconds(900), now: { clock.now })
        let newerKid = await newer.activeKeyId
        let newerFile = SigningKeyStore.fileName(for: newerKid)
        try FileManager.default.copyItem(atPath: second + "/" + newerFile, toPath: first + "/" + newerFile)

        try await older.reload()
        #expect(await older.activeKeyId == newerKid)
        let keys = await older.publicKeys()
        #expect(keys.count == 2)
        #expect(keys[1].retiredAt == clock.now)
    }

    @Test func jwksServesAnOutsideVerifier() async throws {
        let service = try await makeService()
        defer { removeTree(service.keys.directory) }
        let (before, _) = try await issue(service)
        let oldKid = await service.keys.activeKeyId
        let newKid = try await service.keys.rotate()
        let (after, _) = try await issue(service)

        let jwks = await service.keys.jwks()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(jwks.utf8)) as? [String: Any])
        let keys = try #require(object["keys"] as? [[String: String]])
        #expect(keys.map { $0["kid"] } == [newKid, oldKid])
        let published = await service.keys.publicKeys()
        for (jwk, key) in zip(keys, published) {
            #expect(jwk["kty"] == "OKP")
            #expect(jwk["crv"] == "Ed25519")
            #expect(jwk["alg"] == "EdDSA")
            #expect(jwk["use"] == "sig")
            #expect(jwk["x"] == key.publicKeyBase64URL)
            #expect(jwk.count == 6)
            #expect(jwk["d"] == nil)
        }

        // An outside verifier that only knows the JWKS.
        let outside = try await JWTKeyCollection().add(jwksJSON: jwks)
        let verifiedBefore = try await outside.verify(before, as: AccessClaims.self)
        let verifiedAfter = try await outside.verify(after, as: AccessClaims.self)
        #expect(verifiedBefore.tokenId == (try await service.verify(before)).tokenId)
        #expect(verifiedAfter.roles == ["agent"])

        // And it rejects a forgery as well.
        let pieces = parts(after)
        var payload = try json(pieces[1])
        payload["roles"] = ["admin"]
        let forged = pieces[0] + "." + TokenBase64URL.encode(try JSONSerialization.data(withJSONObject: payload)) + "." + pieces[2]
        await #expect(throws: (any Error).self) { _ = try await outside.verify(forged, as: AccessClaims.self) }
    }

    @Test func kidIsTheJWKThumbprint() async throws {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
        let x = try #require(TokenBase64URL.decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"))
        let key = try Curve25519.Signing.PublicKey(rawRepresentation: x)
        #expect(SigningKeyStore.thumbprint(of: key) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    }
}
