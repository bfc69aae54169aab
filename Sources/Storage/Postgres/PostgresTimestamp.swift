import Foundation
import NIOCore
import PostgresNIO

/// A date as TIMESTAMPTZ, kept to the millisecond as every store keeps dates (`StoredDate`).
///
/// postgres-nio's own `Date` coding goes through a Double of microseconds and truncates, so a date
/// can read back a microsecond off. This one rounds to whole milliseconds once, on the way in, and
/// converts with integer arithmetic, so a stored date reads back as exactly `StoredDate.normalized`.
struct PostgresTimestamp: PostgresNonThrowingEncodable, PostgresDecodable, PostgresArrayEncodable, Sendable {
    /// Milliseconds since 1970.
    var milliseconds: Int64

    init(_ date: Date) {
        milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    var date: Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    /// PostgreSQL counts microseconds from 2000-01-01.
    static let postgresEpochInMicroseconds: Int64 = 946_684_800_000_000

    static var psqlType: PostgresDataType { .timestamptz }
    static var psqlFormat: PostgresFormat { .binary }
    static var psqlArrayType: PostgresDataType { .timestamptzArray }

    func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeInteger(milliseconds * 1000 - Self.postgresEpochInMicroseconds)
    }

    init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        guard type == .timestamptz || type == .timestamp, format == .binary else { throw PostgresDecodingError.Code.typeMismatch }
        // ±infinity are the extremes of Int64; no date stands for them.
        guard buffer.readableBytes == 8, let microseconds = buffer.readInteger(as: Int64.self), microseconds != .max, microseconds != .min
        else { throw PostgresDecodingError.Code.failure }
        // Near PostgreSQL's far limits the shift would overflow; no date this store wrote is there.
        let (sinceUnix, overflow) = microseconds.addingReportingOverflow(Self.postgresEpochInMicroseconds + 500)
        guard !overflow else { throw PostgresDecodingError.Code.failure }
        // Rows written by other tools may be finer than a millisecond: round to the nearest, as `StoredDate` does.
        milliseconds = sinceUnix >= 0 ? sinceUnix / 1000 : (sinceUnix - 999) / 1000
    }
}

extension PostgresQuery.StringInterpolation {
    /// Binds a date as a millisecond `PostgresTimestamp`: `\(timestamp: record.createdAt)`.
    mutating func appendInterpolation(timestamp date: Date) {
        appendInterpolation(PostgresTimestamp(date))
    }

    mutating func appendInterpolation(timestamp date: Date?) {
        appendInterpolation(date.map(PostgresTimestamp.init))
    }
}
