import Foundation
import GovernanceCore
import HTTPTypes
import Hummingbird
import HummingbirdOTP
import HummingbirdTesting
import Identity
import Storage
import Testing

@testable import Server

let tokenPath = "/api/v1/auth/token"

@Suite("Auth service")
struct AuthRouterTests {
    @Test func agentExchangesItsKeyForATokenAndDecidesWithIt() async throws {
        let h = try await Harness()
        let (grant, decision) = try await h.test(service: .auth) { client in
            let g = try await client.execute(
                uri: tokenPath, method: .post, headers: h.headers(bearer: .some(nil)),
                body: ByteBuffer(json: #"{"grant_type": "api_key", "api_key": "\#(h.agentKey)"}"#))
            return (g, g.json)
        }
        #expect(grant.status == .ok)
        #expect(decision["token_type"] == "Bearer")
        #expect(decision["expires_in"] == 900)
        #expect(decision["refresh_token"] == .null)
        let token = try #require(decision["access_token"].stringValue)
        let validated = try await h.test { client in
            try await client.execute(
                uri: validatePath, method: .post, headers: h.headers(bearer: .some(token)),
                body: ByteBuffer(json: #"{"action": {"type": "shell", "arguments": {"command": "ls"}}}"#))
        }
        #expect(validated.status == .ok)
        let stored = try #require(try await h.store.find(id: validated.json["decision_id"].stringValue ?? ""))
        #expect(stored.agentId == h.agent.id, "the acting identity comes from the token")
    }

    @Test func passwordGrantRefreshRotationAndReuseDetection() async throws {
        let h = try await Harness()
        _ = try await h.auth.createUser(username: "rita", password: "a long enough password", roles: [.reviewer], by: nil)
        let (first, second, reuse, afterReuse) = try await h.test(service: .auth) { client in
            let a = try await client.execute(
                uri: tokenPath, method: .post, headers: h.headers(contentType: "application/x-www-form-urlencoded", bearer: .some(nil)),
                body: ByteBuffer(string: "grant_type=password&username=rita&password=a+long+enough+password"))
            let refresh = a.json["refresh_token"].stringValue ?? ""
            let b = try await client.execute(
                uri: tokenPath, method: .post, headers: h.headers(bearer: .some(nil)),
                body: ByteBuffer(json: #"{"grant_type": "refresh_token", "refresh_token": "\#(refresh)"}"#))
            let c = try await client.execute(
                uri: tokenPath, method: .post, headers: h.headers(bearer: .some(nil)),
                body: ByteBuffer(json: #"{"grant_type": "refresh_token", "refresh_token": "\#(refresh)"}"#))
            let newer = b.json["refresh_token"].stringValue ?? ""
            let d = try await client.execute(
                uri: tokenPath, method: .post, headers: h.headers(bearer: .some(nil)),
                body: ByteBuffer(json: #"{"grant_type": "refresh_token", "refresh_token": "\#(newer)"}"#))
            return (a, b, c, d)
        }
        #expect(first.status == .ok && first.json["refresh_token"].stringValue?.hasPrefix("rt_") == true)
        #expect(first.headers[.cacheControl] == "no-store")
        #expect(second.status == .ok && second.json["refresh_token"] != first.json["refresh_token"])
        #expect(reuse.status == .unauthorized, "a spent refresh token is refused")
        #expect(afterReuse.status == .unauthorized, "reuse revokes the whole family, the newest token included")
        #expect(h.events.events.contains { $0.kind == .refreshReuseDetected })
    }

    @Test func failedLoginsDoNotRevealWhetherAUsernameExistsAndLockOut() async throws {
        let h = try await Harness()
        _ = try await h.auth.createUser(username: "sam", password: "the right password!", roles: [.auditor], by: nil)
        let responses = try await h.test(service: .auth) { client in
            var out: [TestResponse] = []
            for body in [
                #"{"grant_type": "password", "username": "nobody", "password": "whatever it is"}"#,
                #"{"grant_type": "password", "username": "sam", "password": "wrong password"}"#,
            ] {
                out.append(try await client.execute(uri: tokenPath, method: .post, headers: h.headers(bearer: .some(nil)), body: ByteBuffer(json: body)))
            }
            for _ in 0..<5 {
                out.append(
                    try await client.execute(
                        uri: tokenPath, method: .post, headers: h.headers(bearer: .some(nil)),
                        body: ByteBuffer(json: #"{"grant_type": "password", "username": "sam", "password": "wrong again"}"#)))
            }
            // Locked now: even the right password is refused, with the same answer.
            out.append(
                try await client.execute(
                    uri: tokenPath, method: .post, headers: h.headers(bearer: .some(nil)),
                    body: ByteBuffer(json: #"{"grant_type": "password", "username": "sam", "password": "the right password!"}"#)))
            return out
        }
        #expect(responses.allSatisfy { $0.status == .unauthorized })
        let bodies = Set(responses.map { String(buffer: $0.body) })
        #expect(bodies.count == 1, "unknown user, wrong password and locked account answer identically")
        #expect(responses[0].headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
        #expect(h.events.events.contains { $0.kind == .lockedOut })
    }

    @Test func secondFactorIsRequiredOnceConfirmed() async throws {
        let h = try await Harness()
        let (user, token) = try await h.signIn(roles: [.reviewer], username: "mia")
        let enrolment = try await h.test(service: .auth) { client in
            try await client.execute(uri: "/api/v1/auth/mfa/enroll", method: .post, headers: h.headers(bearer: .some(token)))
        }
        #expect(enrolment.status == .ok)
        #expect(enrolment.json["otpauth_uri"].stringValue?.hasPrefix("otpauth://totp/mia?secret=") == true)
        #expect(enrolment.json["recovery_codes"].arrayValue?.count == 10)
        let secret = try #require(try await h.auth.repository.user(id: user.id)?.totpSecret)
        let code = String(format: "%06d", TOTP(secret: secret).compute(date: Date()))
        _ = try await h.test(service: .auth) { client in
            try await client.execute(uri: "/api/v1/auth/mfa/confirm", method: .post, headers: h.headers(bearer: .some(token)), body: ByteBuffer(json: #"{"code": "\#(code)"}"#))
        }
        await #expect(throws: AuthError.mfaRequired) { try await h.auth.passwordGrant(username: "mia", password: "correct horse battery staple", otp: nil) }
        await #expect(throws: AuthError.invalidCredentials) { try await h.auth.passwordGrant(username: "mia", password: "correct horse battery staple", otp: "000000") }
        let ok = try await h.auth.passwordGrant(username: "mia", password: "correct horse battery staple", otp: code)
        #expect(!ok.accessToken.isEmpty)
        let recovery = try #require(enrolment.json["recovery_codes"][0].stringValue)
        _ = try await h.auth.passwordGrant(username: "mia", password: "correct horse battery staple", otp: recovery)
        await #expect(throws: AuthError.invalidCredentials, "a recovery code works once") {
            try await h.auth.passwordGrant(username: "mia", password: "correct horse battery staple", otp: recovery)
        }
    }

    @Test func validateAndIntrospectAnswerTheirShapes() async throws {
        let h = try await Harness()
        let (_, token) = try await h.signIn(roles: [.auditor], username: "ada")
        let (valid, invalid, introspected, inactive) = try await h.test(service: .auth) { client in
            let a = try await client.execute(uri: "/api/v1/auth/validate", method: .post, headers: h.headers(bearer: .some(nil)), body: ByteBuffer(json: #"{"token": "\#(token)"}"#))
            let b = try await client.execute(uri: "/api/v1/auth/validate", method: .post, headers: h.headers(bearer: .some(nil)), body: ByteBuffer(json: #"{"token": "nonsense"}"#))
            let c = try await client.execute(
                uri: "/api/v1/auth/introspect", method: .post, headers: h.headers(contentType: "application/x-www-form-urlencoded", bearer: .some(token)),
                body: ByteBuffer(string: "token=\(token)"))
            let d = try await client.execute(
                uri: "/api/v1/auth/introspect", method: .post, headers: h.headers(bearer: .some(token)), body: ByteBuffer(json: #"{"token": "x.y.z"}"#))
            return (a, b, c, d)
        }
        #expect(valid.status == .ok)
        #expect(valid.json["valid"] == true && valid.json["username"] == "ada" && valid.json["roles"] == ["auditor"])
        #expect(valid.json["constitutional_hash"] == .string(h.hash))
        #expect(valid.json["expires_at"].stringValue != nil && valid.json["cache_hit"].boolValue != nil)
        #expect(invalid.status == .unauthorized && invalid.json["valid"] == false)
        #expect(introspected.json["active"] == true && introspected.json["username"] == "ada" && introspected.json["exp"].numberValue != nil)
        #expect(inactive.status == .ok && inactive.json == ["active": false])
    }

    @Test func revokedTokensAndKeysAreRefusedOnTheNextRequest() async throws {
        let h = try await Harness()
        let grant = try await h.auth.apiKeyGrant(key: h.agentKey)
        let body = ByteBuffer(json: #"{"content": "hello"}"#)
        let statuses = try await h.test { client in
            var out: [HTTPResponse.Status] = []
            out.append(try await client.execute(uri: validatePath, method: .post, headers: h.headers(bearer: .some(grant.accessToken)), body: body).status)
            try await h.auth.revoke(grant.accessToken, by: nil)
            out.append(try await client.execute(uri: validatePath, method: .post, headers: h.headers(bearer: .some(grant.accessToken)), body: body).status)
            out.append(try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: body).status)
            let keyId = try await h.auth.repository.apiKeys(agentId: h.agent.id)[0].id
            try await h.auth.revokeAPIKey(id: keyId, by: nil)
            out.append(try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: body).status)
            return out
        }
        #expect(statuses == [.ok, .unauthorized, .ok, .unauthorized])
    }

    @Test func suspendedAgentsAreRefusedAtOnce() async throws {
        let h = try await Harness()
        let body = ByteBuffer(json: #"{"content": "hello"}"#)
        let statuses = try await h.test { client in
            let before = try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: body).status
            _ = try await h.auth.updateAgent(id: h.agent.id, status: .suspended, roles: nil, scopes: nil, by: nil)
            let after = try await client.execute(uri: validatePath, method: .post, headers: h.headers(), body: body).status
            return [before, after]
        }
        #expect(statuses == [.ok, .unauthorized])
    }

    @Test func rolesAreEnforcedPerRoute() async throws {
        let h = try await Harness()
        let (_, reviewer) = try await h.signIn(roles: [.reviewer])
        let (_, admin) = try await h.signIn(roles: [.admin])
        let (decide, read) = try await h.test { client in
            let a = try await client.execute(uri: validatePath, method: .post, headers: h.headers(bearer: .some(reviewer)), body: ByteBuffer(json: #"{"content": "x"}"#))
            let b = try await client.execute(uri: "/api/v1/constitution", method: .get, headers: h.headers(bearer: .some(reviewer)))
            return (a, b)
        }
        #expect(decide.status == .forbidden && decide.errorCode == "forbidden")
        #expect(read.status == .ok)
        let (agentTries, adminDoes) = try await h.test(service: .auth) { client in
            let a = try await client.execute(uri: "/api/v1/auth/agents", method: .get, headers: h.headers())
            let b = try await client.execute(uri: "/api/v1/auth/agents", method: .get, headers: h.headers(bearer: .some(admin)))
            return (a, b)
        }
        #expect(agentTries.status == .forbidden)
        #expect(adminDoes.status == .ok && adminDoes.json["count"] == 1)
    }

    @Test func adminManagesAgentsKeysAndUsers() async throws {
        let h = try await Harness()
        let (_, admin) = try await h.signIn(roles: [.admin])
        let (created, key, keys, user, listed) = try await h.test(service: .auth) { client in
            let a = try await client.execute(
                uri: "/api/v1/auth/agents", method: .post, headers: h.headers(bearer: .some(admin)),
                body: ByteBuffer(json: #"{"name": "billing-bot", "owner": "payments-team", "scopes": ["payments"]}"#))
            let id = a.json["id"].stringValue ?? ""
            let b = try await client.execute(uri: "/api/v1/auth/agents/\(id)/keys", method: .post, headers: h.headers(bearer: .some(admin)), body: ByteBuffer(json: "{}"))
            let c = try await client.execute(uri: "/api/v1/auth/agents/\(id)/keys", method: .get, headers: h.headers(bearer: .some(admin)))
            let d = try await client.execute(
                uri: "/api/v1/auth/users", method: .post, headers: h.headers(bearer: .some(admin)),
                body: ByteBuffer(json: #"{"username": "pat", "password": "pat's long password", "roles": ["policy_author"]}"#))
            let e = try await client.execute(uri: "/api/v1/auth/users", method: .get, headers: h.headers(bearer: .some(admin)))
            return (a, b, c, d, e)
        }
        #expect(created.status == .created && created.json["roles"] == ["agent"] && created.json["owner"] == "payments-team")
        #expect(key.status == .created)
        let secret = try #require(key.json["api_key"].stringValue)
        #expect(secret.hasPrefix("acgs_"))
        #expect(keys.json["keys"][0]["prefix"] == key.json["prefix"])
        #expect(!String(buffer: keys.body).contains(secret), "a key is shown once, at creation")
        #expect(user.status == .created && user.json["roles"] == ["policy_author"])
        #expect(!String(buffer: listed.body).contains("$2"), "no password hash leaves the service")
        #expect(try await h.auth.apiKeyGrant(key: secret).principal.name == "billing-bot")
    }

    /// The scheme is case-insensitive and the credential may be padded with spaces (RFC 6750 and
    /// RFC 9110 allow both).
    @Test(arguments: ["Bearer %@", "bearer %@", "BEARER   %@  "])
    func bearerHeadersInAnyCaseAndSpacingAreAccepted(format: String) async throws {
        let h = try await Harness()
        let response = try await h.test { client in
            var headers = h.headers(bearer: .some(nil))
            headers[.authorization] = format.replacingOccurrences(of: "%@", with: h.agentKey)
            return try await client.execute(uri: validatePath, method: .post, headers: headers, body: ByteBuffer(json: #"{"content": "x"}"#))
        }
        #expect(response.status == .ok)
        #expect(try await h.store.count() == 1)
    }

    @Test(arguments: ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer not-a-token", "Bearer a.b.c", "Bearer " + String(repeating: "x", count: 9000)])
    func malformedOrForgedAuthorizationIs401(header: String) async throws {
        let h = try await Harness()
        let response = try await h.test { client in
            var headers = h.headers(bearer: .some(nil))
            if !header.isEmpty { headers[.authorization] = header }
            return try await client.execute(uri: validatePath, method: .post, headers: headers, body: ByteBuffer(json: #"{"content": "x"}"#))
        }
        #expect(response.status == .unauthorized)
        #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer realm=") == true)
        #expect(response.json["error"]["code"].stringValue != nil)
        #expect(try await h.store.count() == 0)
    }

    @Test(arguments: [
        #"{"grant_type": "client_credentials"}"#, #"{"grant_type": "password", "username": "x"}"#, #"{"grant_type": 1}"#,
        #"{"grant_type": "password", "username": "x", "password": "y", "extra": true}"#, "{",
    ])
    func badTokenRequestsAre400(body: String) async throws {
        let h = try await Harness()
        let response = try await h.test(service: .auth) { client in
            try await client.execute(uri: tokenPath, method: .post, headers: h.headers(bearer: .some(nil)), body: ByteBuffer(json: body))
        }
        #expect(response.status == .badRequest, "\(body): \(response.json)")
    }

    @Test func jwksIsPublicAndListsTheSigningKey() async throws {
        let h = try await Harness()
        let response = try await h.test(service: .auth) { client in try await client.execute(uri: "/.well-known/jwks.json", method: .get) }
        #expect(response.status == .ok)
        #expect(response.json["keys"][0]["kty"] == "OKP" && response.json["keys"][0]["crv"] == "Ed25519")
    }

    @Test func logoutEndsTheSession() async throws {
        let h = try await Harness()
        let (_, token) = try await h.signIn(roles: [.reviewer])
        let (out, after) = try await h.test(service: .auth) { client in
            let a = try await client.execute(uri: "/api/v1/auth/logout", method: .post, headers: h.headers(bearer: .some(token)))
            let b = try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: h.headers(bearer: .some(token)))
            return (a, b)
        }
        #expect(out.status == .ok)
        #expect(after.status == .unauthorized)
    }

    /// Bodies that a route taking no parameters must refuse.
    enum UnwantedBody: String, CaseIterable {
        case malformed, array, unknownField, null, oversized

        var text: String {
            switch self {
            case .malformed: #"{"a":"#
            case .array: "[1]"
            case .unknownField: #"{"refresh_token": "x"}"#
            case .null: "null"
            case .oversized: #"{"a": ""# + String(repeating: "x", count: 70_000) + #""}"#
            }
        }
    }

    /// Logout and MFA enrolment take no parameters: a body other than nothing or `{}` is refused
    /// before anything happens (the session stays open, no second factor is started).
    @Test(arguments: UnwantedBody.allCases)
    func logoutAndEnrolmentRefuseABody(_ body: UnwantedBody) async throws {
        let h = try await Harness()
        let (user, token) = try await h.signIn(roles: [.reviewer], username: "noor")
        let (logout, enroll, me) = try await h.test(service: .auth) { client in
            let a = try await client.execute(uri: "/api/v1/auth/logout", method: .post, headers: h.headers(bearer: .some(token)), body: ByteBuffer(json: body.text))
            let b = try await client.execute(uri: "/api/v1/auth/mfa/enroll", method: .post, headers: h.headers(bearer: .some(token)), body: ByteBuffer(json: body.text))
            let c = try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: h.headers(bearer: .some(token)))
            return (a, b, c)
        }
        let (status, code): (HTTPResponse.Status, String) = body == .oversized ? (.contentTooLarge, "body_too_large") : (.badRequest, "invalid_json")
        #expect(logout.status == status && logout.errorCode == code, "\(logout.json)")
        #expect(enroll.status == status && enroll.errorCode == code, "\(enroll.json)")
        #expect(me.status == .ok, "a refused logout leaves the session open")
        #expect(try await h.auth.repository.user(id: user.id)?.totpSecret == nil, "a refused enrolment starts no second factor")
    }

    @Test func logoutAndEnrolmentTakeAnEmptyObject() async throws {
        let h = try await Harness()
        let (_, token) = try await h.signIn(roles: [.reviewer], username: "ines")
        let (enroll, logout) = try await h.test(service: .auth) { client in
            let a = try await client.execute(uri: "/api/v1/auth/mfa/enroll", method: .post, headers: h.headers(bearer: .some(token)), body: ByteBuffer(json: "{}"))
            let b = try await client.execute(uri: "/api/v1/auth/logout", method: .post, headers: h.headers(bearer: .some(token)), body: ByteBuffer(json: "{ }"))
            return (a, b)
        }
        #expect(enroll.status == .ok)
        #expect(logout.status == .ok)
    }
}
