import Logging
import SQLiteNIO
import ServiceLifecycle

/// Runs WAL checkpoints on a connection of its own, once a second, so that the writer never
/// pays for them. PASSIVE checkpoints never block the writer.
public struct SQLiteCheckpointer: Service {
    let path: String
    let interval: Duration
    let logger: Logger

    public init(path: String, interval: Duration = .seconds(1), logger: Logger) {
        self.path = path
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        _ = try await connection.query("PRAGMA busy_timeout=1000")
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                break
            }
            do {
                _ = try await connection.query("PRAGMA wal_checkpoint(PASSIVE)")
            } catch {
                logger.warning("WAL checkpoint failed; will retry", metadata: ["error.type": "\(type(of: error))"])
            }
        }
        // Closed outside this (possibly cancelled) task: a cancelled task cannot reach the thread pool.
        await Task { try? await connection.close() }.value
    }
}
