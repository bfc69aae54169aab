import Logging
import PostgresNIO
import ServiceLifecycle

/// Work that one replica at a time does (signing tree heads): whoever holds a session-level
/// advisory lock does it. The lock lives on a connection held for as long as the replica leads; when
/// the replica dies or loses its connection, PostgreSQL releases the lock and another takes over.
public struct PostgresLeadership: Sendable {
    let store: PostgresStore
    let key: Int64

    /// The lock of the tree-head signer.
    public static func treeHeadSigner(_ store: PostgresStore) -> PostgresLeadership {
        PostgresLeadership(store: store, key: PostgresLocks.treeHeadSigner)
    }

    /// Runs `lead` whenever this replica holds the lock, trying to take it every `retry` while another
    /// replica does, until graceful shutdown or cancellation. `lead` is cancelled if the lock's
    /// connection fails, since the lock may then already belong to another replica.
    public func run(retry: Duration = .seconds(1), logger: Logger, _ lead: @escaping @Sendable () async -> Void) async {
        let key = self.key
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await store.client.withConnection { connection in
                    let rows = try await connection.query("SELECT pg_try_advisory_lock(\(key))", logger: logger).collect()
                    guard try rows.first?.decode(Bool.self) == true else { return }
                    logger.notice("this replica leads", metadata: ["lock": "\(key)"])
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { await lead() }
                        group.addTask {
                            // The lock is as alive as its connection: check it, and stop leading when it fails.
                            while true {
                                try await Task.sleep(for: .seconds(1))
                                try await connection.query("SELECT 1", logger: logger)
                            }
                        }
                        defer { group.cancelAll() }
                        try await group.next()
                    }
                    _ = try? await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)
                }
            } catch {
                logger.warning("lost or could not take the lead", metadata: ["lock": "\(key)", "error.type": "\(type(of: error))"])
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: retry) }
            } catch {
                return
            }
        }
    }
}
