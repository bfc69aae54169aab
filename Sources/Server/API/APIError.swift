import GovernanceCore
import Hummingbird
import Logging

/// An error answered to a client as JSON: `{"error": {"code", "message", ...details}}`.
public struct APIError: Error, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var details: [String: JSONValue]
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, message: String, details: [String: JSONValue] = [:], headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
    }

    public var body: JSONValue {
        var error: [String: JSONValue] = ["code": .string(code), "message": .string(message), "status": .number(Double(status.code))]
        for (k, v) in details { error[k] = v }
        return .object(["error": .object(error)])
    }

    public func response() -> Response {
        var response = JSONResponse.make(body, status: status)
        response.headers.append(contentsOf: headers)
        return response
    }

    static func badRequest(_ message: String, code: String = "invalid_request", details: [String: JSONValue] = [:]) -> APIError {
        APIError(.badRequest, code: code, message: message, details: details)
    }

    static func unavailable(_ message: String, code: String = "unavailable") -> APIError {
        APIError(.serviceUnavailable, code: code, message: message)
    }

    /// Runs a store operation; an API error passes through, any other failure is logged by type only
    /// and answered 503 with `code`: never a 500.
    static func unavailableOnFailure<T>(
        code: String, message: String, logger: Logger, _ body: () async throws -> T
    ) async throws -> T {
        do {
            return try await body()
        } catch let error as APIError {
            throw error
        } catch {
            logger.error("store unavailable", metadata: ["code": "\(code)", "error.type": "\(type(of: error))"])
            throw APIError.unavailable(message, code: code)
        }
    }
}

enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        make(text: CanonicalJSON.encode(value), status: status)
    }

    static func make(text: String, status: HTTPResponse.Status = .ok) -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(text)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .contentLength: String(buffer.readableBytes)],
            body: .init(byteBuffer: buffer))
    }
}
