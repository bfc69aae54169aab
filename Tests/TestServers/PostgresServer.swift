import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real PostgreSQL server for the tests: one cluster per test process, initialised into a
/// temporary directory and listening on a free loopback port, stopped when the process exits. Each
/// test takes a database of its own (`freshDatabase()`), so tests never see each other's rows.
///
/// PostgreSQL refuses to run as root, so under root (CI) the cluster belongs to the `postgres`
/// account that Debian's package creates.
public enum PostgresServer {
    public struct Cluster: Sendable {
        public let port: Int
        public let directory: String
        public let binaries: String
        public let runAs: String?
        public var user: String { "acgs" }

        /// The URL of a database in this cluster, as `ACGS_DATABASE_URL` takes it.
        public func url(database: String) -> String { "postgres://\(user)@127.0.0.1:\(port)/\(database)" }

        /// Creates an empty database and returns its URL.
        public func freshDatabase() throws -> String {
            let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
            try psql("CREATE DATABASE \(name)")
            return url(database: String(name))
        }

        /// Runs SQL as the cluster's superuser in `database`.
        public func psql(_ sql: String, database: String = "postgres") throws {
            _ = try query(sql, database: database)
        }

        /// Runs SQL and returns its rows, one per line, columns separated by `|`.
        public func query(_ sql: String, database: String = "postgres") throws -> String {
            try run(
                binaries + "/psql",
                ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", database, "-c", sql])
        }

        /// Stops the server and deletes its files (for clusters of one test's own).
        public func destroy() {
            _ = try? PostgresServer.run(binaries + "/pg_ctl", ["-D", directory, "-m", "immediate", "-w", "stop"], as: runAs)
            try? FileManager.default.removeItem(atPath: directory)
        }

        /// Stops the server (fast shutdown: clients are disconnected, nothing committed is lost).
        public func stop() throws {
            try run(binaries + "/pg_ctl", ["-D", directory, "-m", "fast", "-w", "stop"], as: runAs)
        }

        /// Starts it again on the same port and directory, and waits until it accepts connections.
        public func start() throws {
            // The server runs as a child of this process rather than through `pg_ctl start`, whose
            // daemonised server would inherit the descriptors `Process` watches and never let it return.
            let server = Process()
            let program = binaries + "/postgres"
            let arguments = [
                "-D", directory, "-p", String(port), "-k", directory, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=400",
                "-c", "fsync=off", "-c", "full_page_writes=off",
            ]
            if let runAs {
                server.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
                server.arguments = ["-u", runAs, "--", program] + arguments
            } else {
                server.executableURL = URL(fileURLWithPath: program)
                server.arguments = arguments
            }
            server.standardOutput = FileHandle.nullDevice
            server.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/server.log"))
            try server.run()
            let deadline = Date().addingTimeInterval(60)
            while (try? PostgresServer.run(binaries + "/pg_isready", ["-q", "-h", "127.0.0.1", "-p", String(port)])) == nil {
                guard server.isRunning, Date() < deadline else {
                    let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
                    throw TestServerError("PostgreSQL did not start on port \(port): \(log.suffix(2000))")
                }
                usleep(50_000)
            }
        }
    }

    /// The cluster of this test process, started on first use.
    public static func shared() throws -> Cluster {
        try lock.withLock {
            if let cluster = started { return cluster }
            let cluster = try launch()
            started = cluster
            stopAtExitDirectory = cluster.directory
            stopAtExitBinaries = cluster.binaries
            stopAtExitUser = cluster.runAs
            atexit {
                guard let directory = PostgresServer.stopAtExitDirectory, let binaries = PostgresServer.stopAtExitBinaries else { return }
                _ = try? PostgresServer.run(binaries + "/pg_ctl", ["-D", directory, "-m", "immediate", "-w", "stop"], as: PostgresServer.stopAtExitUser)
                try? FileManager.default.removeItem(atPath: directory)
            }
            return cluster
        }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var started: Cluster?
    nonisolated(unsafe) static var stopAtExitDirectory: String?
    nonisolated(unsafe) static var stopAtExitBinaries: String?
    nonisolated(unsafe) static var stopAtExitUser: String?

    /// A cluster of the caller's own, for a test that stops and starts PostgreSQL while other tests
    /// use the shared one. `destroy()` it when done.
    public static func launchPrivate() throws -> Cluster {
        try launch()
    }

    private static func launch() throws -> Cluster {
        let binaries = try findBinaries()
        let runAs: String? = getuid() == 0 ? "postgres" : nil
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("acgs-pg-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if let runAs { try run("/bin/chown", [runAs + ":", directory]) }
        try run(
            binaries + "/initdb", ["-D", directory, "-U", "acgs", "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C"], as: runAs)
        if let runAs { try run("/bin/chown", ["-R", runAs + ":", directory]) }
        _ = FileManager.default.createFile(atPath: directory + "/server.log", contents: nil)
        if let runAs { try run("/bin/chown", [runAs + ":", directory + "/server.log"]) }
        let cluster = Cluster(port: try FreePort.next(), directory: directory, binaries: binaries, runAs: runAs)
        try cluster.start()
        return cluster
    }

    /// The newest installed PostgreSQL's programs (Debian keeps them out of PATH).
    static func findBinaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        for version in versions.reversed() where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return "\(root)/\(version)/bin"
        }
        throw TestServerError("PostgreSQL is not installed (no \(root)/*/bin/initdb): run scripts/test.sh, which installs it")
    }

    /// Runs a program to completion, as another account when asked; returns its output, or fails
    /// with it.
    @discardableResult
    static func run(_ program: String, _ arguments: [String], as user: String? = nil) throws -> String {
        let process = Process()
        if let user {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", user, "--", program] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = arguments
        }
        // Output goes to a file, not a pipe: a server started by `pg_ctl` inherits the descriptor
        // and would hold a pipe open for as long as it runs.
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("acgs-run-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        defer { try? output.close() }
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let status = process.waitForExit()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw TestServerError("\(program) \(arguments.joined(separator: " ")) exited \(status): \(text)")
        }
        return text
    }
}

public struct TestServerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Free loopback ports for test servers.
public enum FreePort {
    /// Every port handed out in this process, so that two servers never get the same one.
    private static let given = Mutex<Set<Int>>([])

    /// A port nothing listens on, taken below the kernel's range for the local ports of outgoing
    /// connections. A port from that range (what binding port 0 returns) could be taken by any client
    /// socket of the tests between this check and the server's own bind, and the server then failed
    /// to start with "address already in use".
    public static func next() throws -> Int {
        let upper = min(ephemeralLowerBound(), 65_536)
        for _ in 0..<500 {
            let port = Int.random(in: 10_000..<upper)
            guard given.withLock({ $0.insert(port).inserted }) else { continue }
            if canBind(port) { return port }
        }
        throw TestServerError("no free port below \(upper)")
    }

    /// The first port of `net.ipv4.ip_local_port_range` (32768 by default).
    static func ephemeralLowerBound() -> Int {
        let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let first = range.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) }
        return max(first ?? 32_768, 10_001)
    }

    static func canBind(_ port: Int) -> Bool {
        guard let socket = try? LoopbackSocket() else { return false }
        defer { socket.close() }
        return socket.bind(port: port)
    }
}

/// Runs blocking work (a `psql` or `initdb` process, a wait on the cluster's lock) on a thread of
/// its own: on one of the few threads that tasks share, it would stall every other test's timers.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
