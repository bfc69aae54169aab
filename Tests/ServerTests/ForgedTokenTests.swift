import Crypto
import Foundation
import GovernanceCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Identity
import Testing

@testable import Server

/// Forged and stale tokens sent to a governed endpoint over HTTP: every one is a 401 with a JSON
/// error and a `WWW-Authenticate` challenge, and no decision is recorded.
@Suite("Forged and stale tokens over HTTP")
struct ForgedTokenTests {
    static func b64url(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func bytes(b64url text: String) -> [UInt8] {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Array(Data(base64Encoded: s) ?? Data())
    }

    /// Tokens an attacker or a stale client could present, built from a genuine one.
    static func forgeries(h: Harness) async throws -> [(String, String)] {
        let genuine = try await h.auth.apiKeyGrant(key: h.agentKey).accessToken
        let parts = genuine.split(separator: ".").map(String.init)
        let payload = String(decoding: bytes(b64url: parts[1]), as: UTF8.self)
        let kid = await h.auth.tokens.keys.activeKeyId
        let publicKey = bytes(b64url: await h.auth.tokens.keys.publicKeys()[0].publicKeyBase64URL)

        let none = b64url(Array(#"{"alg":"none","typ":"JWT"}"#.utf8)) + "." + parts[1] + "."
        let hsHeader = b64url(Array(#"{"alg":"HS256","typ":"JWT","kid":"\#(kid)"}"#.utf8))
        let hsSignature = HMAC<SHA256>.authenticationCode(for: Array((hsHeader + "." + parts[1]).utf8), using: SymmetricKey(data: publicKey))
        let hs256 = hsHeader + "." + parts[1] + "." + b64url(hsSignature)
        let escalated = b64url(Array(payload.replacingOccurrences(of: #""agent""#, with: #""admin""#).utf8))
        let tamperedPayload = parts[0] + "." + escalated + "." + parts[2]
        var signature = bytes(b64url: parts[2])
        signature[0] ^= 1
        let tamperedSignature = parts[0] + "." + parts[1] + "." + b64url(signature)
        let unknownKid = b64url(Array(#"{"alg":"EdDSA","typ":"JWT","kid":"not-a-key"}"#.utf8)) + "." + parts[1] + "." + parts[2]

        let tokens = h.auth.tokens
        let past = Date().addingTimeInterval(-3600)
        let expired = try await tokens.issue(subject: h.agent.id, kind: "agent", name: "x", roles: ["agent"], constitutionalHash: h.hash, now: past).token
        let future = try await tokens.issue(subject: h.agent.id, kind: "agent", name: "x", roles: ["agent"], constitutionalHash: h.hash, now: Date().addingTimeInterval(3600)).token
        let otherAudience = await TokenService(keys: tokens.keys, issuer: tokens.issuer, audience: "someone-else")
        let wrongAudience = try await otherAudience.issue(subject: h.agent.id, kind: "agent", name: "x", roles: ["agent"], constitutionalHash: h.hash).token
        let otherIssuer = await TokenService(keys: tokens.keys, issuer: "evil", audience: tokens.audience)
        let wrongIssuer = try await otherIssuer.issue(subject: h.agent.id, kind: "agent", name: "x", roles: ["agent"], constitutionalHash: h.hash).token
        return [
            ("alg none", none), ("HS256 keyed with the public key", hs256), ("tampered payload", tamperedPayload),
            ("tampered signature", tamperedSignature), ("unknown kid", unknownKid), ("expired", expired), ("not yet valid", future),
            ("wrong audience", wrongAudience), ("wrong issuer", wrongIssuer),
        ]
    }

    @Test func everyForgeryIsRefused() async throws {
        let h = try await Harness()
        let forgeries = try await Self.forgeries(h: h)
        let responses = try await h.test { client in
            var out: [(String, TestResponse)] = []
            for (name, token) in forgeries {
                out.append((name, try await client.execute(uri: validatePath, method: .post, headers: h.headers(bearer: .some(token)), body: ByteBuffer(json: #"{"content": "x"}"#))))
            }
            return out
        }
        for (name, response) in responses {
            #expect(response.status == .unauthorized, "\(name)")
            #expect(response.json["error"]["code"] == "invalid_token", "\(name)")
            #expect(response.headers[.wwwAuthenticate]?.contains(#"error="invalid_token""#) == true, "\(name)")
        }
        #expect(try await h.store.count() == 0)
    }
}
