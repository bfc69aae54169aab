import Logging
import NIOPosix
import SQLiteNIO
import ServiceLifecycle

/// Runs WAL checkpoints on a connection and a thread of its own, every 50 ms, so that the writer
/// never runs them. Small and frequent on purpose: a checkpoint writes the log's pages into the
/// growing database file, and while that data is flushed the writer's next WAL flush waits on the
/// file system's journal. Once a second (tens of megabytes under load), each checkpoint stalled the
/// commits behind it for 20-35 ms; every 50 ms, the stalls stay within a few milliseconds.
/// PASSIVE checkpoints never take the writer's lock.
public struct SQLiteCheckpointer: Service {
    let repository: SQLiteAuditRepository
    let interval: Duration
    let logger: Logger

    public init(repository: SQLiteAuditRepository, interval: Duration = .milliseconds(50), logger: Logger) {
        self.repository = repository
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        thread.submit { _ in nameCurrentThread("acgs-checkpoint") }
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(
                storage: .file(path: repository.path), threadPool: thread, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
            _ = try await connection.query("PRAGMA busy_timeout=1000")
        } catch {
            try? await thread.shutdownGracefully()
            throw error
        }
        await repeatUntilShutdown(every: interval) {
            do {
                _ = try await connection.query("PRAGMA wal_checkpoint(PASSIVE)")
            } catch {
                logger.warning("WAL checkpoint failed; will retry", metadata: ["error.type": "\(type(of: error))"])
            }
        }
        // Closed outside this (possibly cancelled) task: a cancelled task cannot reach the thread pool.
        await Task {
            try? await connection.close()
            try? await thread.shutdownGracefully()
        }.value
    }
}
