import GovernanceCore
import Hummingbird
import Identity
import Storage

/// `/health`, `/health/live`, `/health/ready` and `/metrics`, the same on every service.
struct HealthController {
    typealias Context = ACGSRequestContext
    let service: ServiceName
    let runtime: GovernanceRuntime
    static var version: String { ACGSVersion.current }

    func addRoutes(to router: Router<Context>) {
        router.get("/health", use: health)
        router.get("/health/live", use: live)
        router.get("/health/ready", use: ready)
        router.get("/metrics", use: metrics)
    }

    @Sendable func health(_ request: Request, context: Context) async throws -> Response {
        let checks = await readiness()
        return JSONResponse.make(
            .object([
                "status": .string(checks.ready ? "healthy" : "unhealthy"),
                "service": .string(service.rawValue),
                "version": .string(Self.version),
                "constitutional_hash": .string(runtime.activeHash),
                "uptime_seconds": .number((runtime.uptimeSeconds * 1000).rounded() / 1000),
            ]),
            status: checks.ready ? .ok : .serviceUnavailable)
    }

    @Sendable func live(_ request: Request, context: Context) async throws -> Response {
        JSONResponse.make(.object(["status": "alive", "service": .string(service.rawValue)]))
    }

    @Sendable func ready(_ request: Request, context: Context) async throws -> Response {
        let checks = await readiness()
        return JSONResponse.make(
            .object([
                "status": .string(checks.ready ? "ready" : "not_ready"),
                "service": .string(service.rawValue),
                "checks": .object(checks.results),
            ]),
            status: checks.ready ? .ok : .serviceUnavailable)
    }

    @Sendable func metrics(_ request: Request, context: Context) async throws -> Response {
        if runtime.metricsRequireAuth {
            // Outside /api/, so the authentication middleware does not run: check here.
            guard let credential = AuthenticationMiddleware.bearer(request) else {
                throw AuthenticationMiddleware.unauthorized("authentication required to read metrics", error: nil)
            }
            let principal: Principal
            do {
                principal = try await runtime.auth.authenticate(bearer: credential).0
            } catch {
                throw AuthenticationMiddleware.unauthorized("the credential was refused", error: "invalid_token")
            }
            guard principal.has(anyOf: [.admin, .auditor]) else {
                throw APIError(.forbidden, code: "forbidden", message: "metrics admit the roles admin, auditor")
            }
        }
        await runtime.reviews.refreshQueueDepth()
        var buffer = ByteBuffer()
        buffer.writeString(runtime.metrics.exposition())
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: buffer))
    }

    /// Ready when the constitution is the one that was verified at start and the stores answer.
    func readiness() async -> (ready: Bool, results: [String: JSONValue]) {
        var results: [String: JSONValue] = ["constitution": .string("ok: \(runtime.activeHash)")]
        var ready = true
        do {
            try await runtime.auditLog.repository.ping()
            results["audit_log"] = "ok"
        } catch {
            results["audit_log"] = .string("unavailable")
            ready = false
        }
        do {
            try await runtime.auth.repository.ping()
            results["identity_store"] = "ok"
        } catch {
            results["identity_store"] = .string("unavailable")
            ready = false
        }
        // Losing Redis degrades the deployment to each replica's L1 cache; decisions go on, so the
        // replica stays ready and says so.
        if let l2 = runtime.l2 {
            results["cache_l2"] = .string(l2.isAvailable ? "ok" : "degraded: Redis unavailable, serving from the L1 cache")
        }
        return (ready, results)
    }
}

public enum ACGSVersion {
    public static let current = "0.1.0"
}
