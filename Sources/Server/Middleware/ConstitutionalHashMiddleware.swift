import Foundation
import GovernanceCore
import Hummingbird

/// Every `/api/` request names the constitution it expects. A client pinned to another constitution
/// is refused with the active hash, rather than judged under rules it did not agree to.
struct ConstitutionalHashMiddleware<Context: RequestContext>: RouterMiddleware {
    let runtime: GovernanceRuntime

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/api/") else { return try await next(request, context) }
        let active = runtime.activeHash
        guard let sent = request.headers[.constitutionalHash] else {
            throw APIError(
                .badRequest, code: "missing_constitutional_hash",
                message: "the X-Constitutional-Hash header is required on every /api/ request",
                details: ["active_hash": .string(active)])
        }
        // The exact header is the common case; only otherwise pay for trimming and case folding.
        guard sent == active || sent.trimmingCharacters(in: .whitespaces).lowercased() == active else {
            throw APIError(
                .conflict, code: "constitutional_hash_mismatch",
                message: "the request is pinned to constitution \(sent.prefix(64)), but the active constitution is \(active)",
                details: ["active_hash": .string(active), "constitution_version": .string(runtime.constitution.version)])
        }
        return try await next(request, context)
    }
}
