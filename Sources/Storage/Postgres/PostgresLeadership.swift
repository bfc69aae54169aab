import Logging
import PostgresNIO
import ServiceLifecycle

/// Work that one replica at a time does (signing tree heads): whoever holds a session-level
/// advisory lock does it. The lock lives on a connection of its own, outside the pool, held for as
/// long as the replica leads; when the replica dies or loses that connection, PostgreSQL releases
/// the lock and another replica takes over.
public struct PostgresLeadership: Sendable {
    let store: PostgresStore
    let key: Int64

    /// The lock of the tree-head signer.
    public static func treeHeadSigner(_ store: PostgresStore) -> PostgresLeadership {
        PostgresLeadership(store: store, key: PostgresLocks.treeHeadSigner)
    }

    /// Runs `lead` whenever this replica holds the lock, trying to take it every `retry` while another
    /// replica does, until graceful shutdown or cancellation. `lead` is cancelled as soon as the lock
    /// may be lost (its connection failed, or PostgreSQL no longer shows it held), since it may then
    /// already belong to another replica.
    public func run(retry: Duration = .seconds(1), logger: Logger, _ lead: @escaping @Sendable () async -> Void) async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await self.leadIfFree(logger: logger, lead) }
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

    private func leadIfFree(logger: Logger, _ lead: @escaping @Sendable () async -> Void) async throws {
        let connection = try await store.withDeadline {
            try await PostgresConnection.connect(configuration: self.store.connectionConfiguration, id: 0, logger: logger)
        }
        // Closing the connection releases the lock, whatever happens below.
        defer { Task { try? await connection.close() } }
        let key = self.key
        let taken = try await store.withDeadline {
            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(key)), pg_backend_pid()", logger: logger).collect()
            return try rows.first?.decode((Bool, Int32).self)
        }
        guard let (held, pid) = taken, held else { return }
        logger.notice("this replica leads", metadata: ["lock": "\(key)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await lead() }
            group.addTask {
                // Watched through the pool, with a deadline: a query on the lock's own connection
                // could wait for ever on a server that went away.
                while true {
                    try await Task.sleep(for: .seconds(1))
                    let rows = try await self.store.query(
                        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = \(pid) AND granted LIMIT 1")
                    if rows.isEmpty { throw PostgresStoreError.timedOut }
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }
}
