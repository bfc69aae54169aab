import Foundation
import Hummingbird
import Logging

/// Turns every error into a JSON response with the right status: a client never sees an empty body,
/// and an unexpected error is logged (without the request body) and answered as a JSON 500.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response()
        } catch let error as HTTPError {
            return APIError(error.status, code: Self.code(error.status), message: error.body ?? Self.message(error.status), headers: error.headers).response()
        } catch let error as any HTTPResponseError {
            return APIError(error.status, code: Self.code(error.status), message: Self.message(error.status)).response()
        } catch {
            context.logger.error("unhandled error", metadata: ["error.type": "\(String(reflecting: type(of: error)))"])
            return APIError(.internalServerError, code: "internal_error", message: "the server could not complete the request").response()
        }
    }

    static func code(_ status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .contentTooLarge: "body_too_large"
        case .badRequest: "invalid_request"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        default: status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_")
        }
    }

    static func message(_ status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "no such endpoint"
        case .contentTooLarge: "the request body is too large"
        default: status.reasonPhrase
        }
    }
}
