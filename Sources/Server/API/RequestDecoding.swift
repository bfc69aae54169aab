import Foundation
import GovernanceCore
import Hummingbird
import NIOCore

/// Rejects fields the API does not define: a typo in a governance request must not be silently
/// ignored (`"principle"` instead of `"principles"` would evaluate every principle).
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Decoder {
    func rejectUnknownKeys(allowed: Set<String>) throws {
        let container = try container(keyedBy: AnyKey.self)
        for key in container.allKeys where !allowed.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(
                .init(codingPath: codingPath + [key], debugDescription: "unknown field '\(key.stringValue)'"))
        }
    }
}

extension Request {
    /// Reads at most `limit` bytes of JSON body and decodes it, answering every failure with a
    /// precise 4xx: 413 for too large, 415 for a non-JSON content type, 400 with the field path for
    /// malformed JSON, wrong types, missing and unknown fields.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws -> T {
        if let contentType = headers[.contentType], !contentType.lowercased().hasPrefix("application/json") {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type", message: "the body must be JSON (Content-Type: application/json)")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, code: "body_too_large", message: "the body exceeds the limit of \(limit) bytes", details: ["limit_bytes": .number(Double(limit))])
        }
        guard buffer.readableBytes > 0 else {
            throw APIError.badRequest("the request body is empty; a JSON object is expected", code: "empty_body")
        }
        do {
            return try JSONDecoder().decode(T.self, from: buffer)
        } catch let error as DecodingError {
            throw APIError.badRequest(Self.describe(error), code: "invalid_json")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            let p = codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "the body" : "field '" + p.drop(while: { $0 == "." }) + "'"
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(Self.typeName(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(Self.typeName(type)), found null"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])): required field is missing"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return "malformed JSON: \(context.underlyingError.map { "\($0)" } ?? context.debugDescription)"
            }
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "invalid request body"
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Double.Type, is Int.Type: "a number"
        case is Bool.Type: "a boolean"
        case is [JSONValue].Type, is [String].Type: "a list"
        default: type == JSONValue.self ? "a JSON value" : "an object"
        }
    }
}
