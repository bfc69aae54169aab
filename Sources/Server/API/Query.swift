import AuditLog
import Foundation
import Hummingbird

/// Query parameters, checked: unknown names are refused like unknown JSON fields.
struct Query {
    let values: [String: String]

    init(_ request: Request, allowed: Set<String>) throws {
        var values: [String: String] = [:]
        for (key, value) in request.uri.queryParameters {
            let name = String(key)
            guard allowed.contains(name) else {
                throw APIError.badRequest(
                    "unknown query parameter '\(name)'" + (allowed.isEmpty ? "; this route takes none" : " (expected one of \(allowed.sorted().joined(separator: ", ")))"),
                    code: "invalid_parameter")
            }
            guard values[name] == nil else { throw APIError.badRequest("query parameter '\(name)' is given twice", code: "invalid_parameter") }
            values[name] = String(value)
        }
        self.values = values
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = values[name] else { return nil }
        guard let value = Int(text), range.contains(value) else {
            let bound = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "from \(range.lowerBound) to \(range.upperBound)"
            throw APIError.badRequest("query parameter '\(name)' must be an integer \(bound), not '\(text)'", code: "invalid_parameter")
        }
        return value
    }

    /// One of the named cases of `T`, by raw value.
    func choice<T: RawRepresentable & CaseIterable>(_ name: String, as type: T.Type) throws -> T? where T.RawValue == String {
        try choices(name, as: type).map { list in
            guard list.count == 1 else { throw invalid(name, T.self) }
            return list[0]
        }
    }

    /// A comma-separated list of named cases of `T`.
    func choices<T: RawRepresentable & CaseIterable>(_ name: String, as type: T.Type) throws -> [T]? where T.RawValue == String {
        guard let text = values[name] else { return nil }
        return try text.split(separator: ",", omittingEmptySubsequences: false).map { item in
            guard let value = T(rawValue: String(item)) else { throw invalid(name, T.self) }
            return value
        }
    }

    private func invalid<T: RawRepresentable & CaseIterable>(_ name: String, _: T.Type) -> APIError where T.RawValue == String {
        APIError.badRequest(
            "query parameter '\(name)' must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))", code: "invalid_parameter")
    }

    /// An RFC 3339 time, as milliseconds since 1970.
    func time(_ name: String) throws -> Int64? {
        guard let text = values[name] else { return nil }
        if let ms = AuditClock.milliseconds(text) { return ms }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        guard let date = formatter.date(from: text) ?? plain.date(from: text) else {
            throw APIError.badRequest("query parameter '\(name)' must be an RFC 3339 time such as 2026-11-22T12:00:00Z, not '\(text)'", code: "invalid_parameter")
        }
        return AuditClock.milliseconds(date)
    }
}
