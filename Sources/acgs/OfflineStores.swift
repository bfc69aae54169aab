import ArgumentParser
import Foundation
import Logging
import Server
import Storage

/// The store an offline command works on, as the server would: PostgreSQL when
/// `ACGS_DATABASE_URL` names it, otherwise the SQLite file of the data directory.
enum OfflineStores {
    static var databaseURL: String? {
        ProcessInfo.processInfo.environment["ACGS_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Runs `body` on the stores, closing them however `body` ends. With `mustExist`, a data
    /// directory without a store is an input error rather than a new, empty store.
    static func with<T>(dataDir: String, mustExist: Bool = false, _ body: (Stores) async throws -> T) async throws -> T {
        var logger = Logger(label: "acgs")
        logger.logLevel = .warning
        if let url = databaseURL {
            let database: PostgresStore
            do {
                database = try PostgresStore(url: url, logger: logger)
            } catch {
                throw InputError("ACGS_DATABASE_URL: \(error.description)")
            }
            let pool = Task { await database.run() }
            defer { pool.cancel() }
            return try await body(try await Stores.postgres(database))
        }
        if mustExist, !FileManager.default.fileExists(atPath: dataDir + "/acgs.sqlite") {
            throw InputError("no store at '\(dataDir)/acgs.sqlite'")
        }
        let stores = try await Stores.embedded(directory: dataDir, logger: logger)
        do {
            let result = try await body(stores)
            await stores.close()
            return result
        } catch {
            await stores.close()
            throw error
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring the store's schema up to date (the server also does this at start).",
        discussion: "PostgreSQL when ACGS_DATABASE_URL is set; otherwise the SQLite store of --data-dir.")

    @Option(name: .long, help: "Directory of the embedded store.")
    var dataDir = "./acgs-data"

    func run() async throws {
        guard let url = OfflineStores.databaseURL else {
            try await OfflineStores.with(dataDir: dataDir) { _ in }
            print("SQLite \(dataDir)/acgs.sqlite: schema up to date")
            return
        }
        let database: PostgresStore
        do {
            database = try PostgresStore(url: url)
        } catch {
            throw InputError("ACGS_DATABASE_URL: \(error.description)")
        }
        let pool = Task { await database.run() }
        defer { pool.cancel() }
        try await database.migrate()
        let versions = try await database.appliedMigrations()
        print("PostgreSQL \(database.location): schema up to date (versions \(versions.map(String.init).joined(separator: ", ")))")
    }
}
