import GovernanceCore
import Hummingbird
import NIOCore

extension Request {
    /// Reads at most `limit` bytes of JSON body, answering every failure with a precise 4xx: 413 for
    /// too large, 415 for a non-JSON content type, 400 with the byte offset for malformed JSON.
    func jsonBody(limit: Int) async throws -> JSONValue {
        try Self.parseJSON(try await jsonBytes(limit: limit))
    }

    /// The body's bytes, checked for content type, size and emptiness but not yet parsed.
    func jsonBytes(limit: Int) async throws -> ByteBuffer {
        try requireJSONContentType()
        let buffer = try await bodyBytes(limit: limit)
        guard buffer.readableBytes > 0 else {
            throw APIError.badRequest("the request body is empty; a JSON object is expected", code: "empty_body")
        }
        return buffer
    }

    /// For routes that take no parameters in their body: nothing, or an empty JSON object.
    func emptyJSONObjectBody(limit: Int = 4 * 1024) async throws {
        let buffer = try await bodyBytes(limit: limit)
        guard buffer.readableBytes > 0 else { return }
        try requireJSONContentType()
        _ = try JSONFields(try Self.parseJSON(buffer), path: "", allowed: [])
    }

    private func requireJSONContentType() throws {
        // The exact form is the common case; only otherwise pay for case folding.
        if let contentType = headers[.contentType], !contentType.hasPrefix("application/json"),
            !contentType.lowercased().hasPrefix("application/json")
        {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type", message: "the body must be JSON (Content-Type: application/json)")
        }
    }

    private func bodyBytes(limit: Int) async throws -> ByteBuffer {
        do {
            return try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, code: "body_too_large", message: "the body exceeds the limit of \(limit) bytes", details: ["limit_bytes": .number(Double(limit))])
        }
    }

    static func parseJSON(_ buffer: ByteBuffer) throws -> JSONValue {
        do {
            return try buffer.readableBytesView.withContiguousStorageIfAvailable { bytes throws(JSONParseError) in try JSONValue.parse(bytes) }
                ?? JSONValue.parse(String(buffer: buffer))
        } catch let error as JSONParseError {
            throw APIError.badRequest("malformed JSON: \(error.description)", code: "invalid_json")
        }
    }
}

/// Reads the fields of a JSON object with precise errors: wrong types, missing and unknown fields
/// are refused with the path of the field. Unknown fields are refused rather than ignored: a typo in
/// a governance request (`"principle"` for `"principles"`) must not silently change its meaning.
struct JSONFields {
    let fields: [String: JSONValue]
    let path: String

    init(_ value: JSONValue, path: String, allowed: Set<String>) throws(APIError) {
        guard case .object(let fields) = value else {
            throw APIError.badRequest("\(Self.name(path)): expected an object, found \(value.typeName)", code: "invalid_json")
        }
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw APIError.badRequest(
                "\(Self.name(Self.join(path, unknown))): unknown field (expected one of \(allowed.sorted().joined(separator: ", ")))",
                code: "invalid_json")
        }
        self.fields = fields
        self.path = path
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    static func name(_ path: String) -> String { path.isEmpty ? "the body" : "field '\(path)'" }

    func fail(_ key: String, _ expected: String) -> APIError {
        let value = fields[key] ?? .null
        return APIError.badRequest("\(Self.name(Self.join(path, key))): expected \(expected), found \(value.typeName)", code: "invalid_json")
    }

    func string(_ key: String, required: Bool = false) throws(APIError) -> String? {
        switch fields[key] {
        case .string(let s): return s
        case nil, .null?:
            if required { throw APIError.badRequest("\(Self.name(Self.join(path, key))): required field is missing", code: "invalid_json") }
            return nil
        default: throw fail(key, "a string")
        }
    }

    func object(_ key: String) throws(APIError) -> [String: JSONValue]? {
        switch fields[key] {
        case .object(let o): return o
        case nil, .null?: return nil
        default: throw fail(key, "an object")
        }
    }

    func array(_ key: String) throws(APIError) -> [JSONValue]? {
        switch fields[key] {
        case .array(let a): return a
        case nil, .null?: return nil
        default: throw fail(key, "a list")
        }
    }

    func stringArray(_ key: String) throws(APIError) -> [String]? {
        guard let items = try array(key) else { return nil }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item else {
                throw APIError.badRequest("\(Self.name(Self.join(path, key) + "[\(i)]")): expected a string, found \(item.typeName)", code: "invalid_json")
            }
            out.append(s)
        }
        return out
    }
}
