import Foundation

@testable import Storage

/// Runs `body` on a repository opened on an SQLite file of its own, closed however `body` ends.
func withSQLiteFile<R: Sendable>(
    open: (String) async throws -> R, close: (R) async throws -> Void, _ body: @Sendable (R) async throws -> Void
) async throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let repository = try await open(dir + "/acgs.sqlite")
    do {
        try await body(repository)
    } catch {
        try? await close(repository)
        throw error
    }
    try await close(repository)
}
