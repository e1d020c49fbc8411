import Foundation

/// The rows a statement returned, copied out of libpq so no C memory outlives the call.
public struct PostgresRows: Sendable, Sequence {
    public let columns: [String]
    let values: [[String?]]
    /// The number of rows the statement affected (`INSERT`, `UPDATE`, `DELETE`), from `PQcmdTuples`.
    public let affectedRows: Int

    public var count: Int { values.count }
    public var first: PostgresRow? { values.isEmpty ? nil : PostgresRow(columns: columns, values: values[0]) }

    public func makeIterator() -> AnyIterator<PostgresRow> {
        var index = 0
        return AnyIterator {
            guard index < values.count else { return nil }
            defer { index += 1 }
            return PostgresRow(columns: columns, values: values[index])
        }
    }
}

/// One row; columns are read by name and decoded from PostgreSQL's text format.
public struct PostgresRow: Sendable {
    let columns: [String]
    let values: [String?]

    /// Decodes a non-null column.
    ///
    /// - Throws: ``PostgresError`` with code `decoding` when the column is missing, `NULL` or malformed.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let value = try decodeIfPresent(column, as: type) else {
            throw PostgresError(code: .decoding, message: "column \(column) is NULL, expected \(T.self)")
        }
        return value
    }

    /// Decodes a nullable column.
    public func decodeIfPresent<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T? {
        guard let index = columns.firstIndex(of: column) else {
            throw PostgresError(code: .decoding, message: "no column \(column) in result (\(columns.joined(separator: ",")))")
        }
        guard let text = values[index] else { return nil }
        guard let value = T(postgresText: text) else {
            throw PostgresError(code: .decoding, message: "column \(column) is not a valid \(T.self)")
        }
        return value
    }

    /// Decodes a `json`/`jsonb` column with `JSONDecoder`.
    public func decodeJSON<T: Decodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        let text: String = try decode(column)
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw PostgresError(code: .decoding, message: "column \(column) does not hold a valid \(T.self): \(error)")
        }
    }

    /// Like ``decodeJSON(_:as:)`` for a nullable column: `nil` when it is NULL.
    public func decodeJSONIfPresent<T: Decodable>(_ column: String, as type: T.Type = T.self) throws -> T? {
        guard let _: String = try decodeIfPresent(column) else { return nil }
        return try decodeJSON(column, as: T.self)
    }
}
