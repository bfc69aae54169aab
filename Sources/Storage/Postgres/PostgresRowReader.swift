import Foundation
import PostgresNIO

/// Typed, throwing access to the columns of one row. A column missing, of another type, or holding a
/// value this version does not know (a role, a state) makes the row unreadable: an error, so that a
/// damaged row never reads as an absent one.
struct PostgresRowReader {
    let row: PostgresRandomAccessRow
    let table: String

    init(_ row: PostgresRow, table: String) {
        self.row = row.makeRandomAccess()
        self.table = table
    }

    func unreadable(_ column: String) -> PostgresStoreError {
        .unreadableRow("\(table).\(column)")
    }

    /// The column's value; `T?` reads a nullable column.
    func value<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard row.contains(column) else { throw unreadable(column) }
        do {
            return try row[column].decode(T.self)
        } catch {
            throw unreadable(column)
        }
    }

    func date(_ column: String) throws -> Date {
        try value(column, as: PostgresTimestamp.self).date
    }

    func optionalDate(_ column: String) throws -> Date? {
        try value(column, as: PostgresTimestamp?.self)?.date
    }

    /// A column of raw values (statuses, states) read as `T`.
    func rawValue<T: RawRepresentable<String>>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let value = T(rawValue: try value(column, as: String.self)) else { throw unreadable(column) }
        return value
    }

    func rawValues<T: RawRepresentable<String>>(_ column: String, as type: T.Type = T.self) throws -> [T] {
        try value(column, as: [String].self).map { raw in
            guard let value = T(rawValue: raw) else { throw unreadable(column) }
            return value
        }
    }
}

/// A statement refused by a constraint: which kind, and the constraint's name.
struct PostgresConstraintViolation {
    enum Kind {
        case unique, foreignKey
    }

    let kind: Kind
    let constraint: String

    /// Nil when `error` is anything else.
    init?(_ error: any Error) {
        guard let error = error as? PSQLError, let info = error.serverInfo, let constraint = info[.constraintName] else { return nil }
        switch info[.sqlState] {
        case "23505": kind = .unique
        case "23503": kind = .foreignKey
        default: return nil
        }
        self.constraint = constraint
    }
}
