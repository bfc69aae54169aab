import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real `redis-server` for tests: started on a free loopback port in a temporary directory, with
/// nothing saved to disk. It can be killed, paused and restarted on the same port, to test what a
/// client does when its server goes away and comes back.
///
/// Speaks to Redis only through the process and a raw socket, so that it depends on none of the
/// clients it is used to test. `REDIS_SERVER` may name the binary; otherwise it is looked up in the
/// usual places (the Debian package `redis-server` installs `/usr/bin/redis-server`).
public actor RedisServer {
    public nonisolated let port: Int
    public nonisolated let password: String?
    private let directory: URL
    private let executable: String
    private var process: Process?

    /// A URL for the server, with its password, and the database given.
    public nonisolated func url(database: Int = 0) -> String {
        let credentials = password.map { ":\($0)@" } ?? ""
        return "redis://\(credentials)127.0.0.1:\(port)/\(database)"
    }

    /// Starts a server and returns once it answers on its port.
    public static func start(password: String? = nil) async throws -> RedisServer {
        let executable = try findExecutable()
        var lastError: (any Error)?
        // A port found free can be taken by another test's server before this one binds it: try a few.
        for _ in 0..<3 {
            let server = try RedisServer(port: try FreePort.next(), password: password, executable: executable)
            do {
                try await server.launch()
                return server
            } catch {
                lastError = error
                await server.stop()
            }
        }
        throw lastError!
    }

    /// Runs `body` with a fresh server, and stops the server afterwards, even when `body` throws.
    public static func withServer<T: Sendable>(
        password: String? = nil, _ body: (RedisServer) async throws -> T
    ) async throws -> T {
        let server = try await start(password: password)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    private init(port: Int, password: String?, executable: String) throws {
        self.port = port
        self.password = password
        self.executable = executable
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Kills the server at once (SIGKILL), as a crash would; the port is then free. SIGKILL also
    /// because a server started from a test inherits the blocked signals of the thread that
    /// started it, so a SIGTERM may never be delivered.
    public func kill() async {
        guard let process else { return }
        if process.isRunning { _ = Foundation.kill(process.processIdentifier, SIGKILL) }
        await waitForExit(process)
        self.process = nil
    }

    /// Starts the server again on the same port, and returns once it answers. Its data is gone.
    public func restart() async throws {
        await kill()
        try await launch()
    }

    /// Freezes the server (SIGSTOP): connections are still accepted by the kernel, but nothing is
    /// answered, like a server stuck on a slow command. Returns once the process has stopped: a
    /// signal is delivered asynchronously, and a command sent just before that would be answered.
    public func pause() async {
        guard let process, process.isRunning else { return }
        _ = Foundation.kill(process.processIdentifier, SIGSTOP)
        await waitForState(of: process, stopped: true)
    }

    public func resume() async {
        guard let process, process.isRunning else { return }
        _ = Foundation.kill(process.processIdentifier, SIGCONT)
        await waitForState(of: process, stopped: false)
    }

    /// Waits until the process is stopped (or running again), as `/proc` tells. Where there is no
    /// `/proc`, waits a moment instead.
    private func waitForState(of process: Process, stopped: Bool) async {
        let statPath = "/proc/\(process.processIdentifier)/stat"
        guard FileManager.default.fileExists(atPath: statPath) else {
            try? await Task.sleep(for: .milliseconds(100))
            return
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            // The state is the field after the command name, which is in parentheses.
            guard let stat = try? String(contentsOfFile: statPath, encoding: .utf8),
                let nameEnd = stat.lastIndex(of: ")")
            else { return }
            let state = stat[stat.index(after: nameEnd)...].split(separator: " ").first
            if (state == "T") == stopped { return }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Stops the server for good and removes its directory.
    public func stop() async {
        await kill()
        try? FileManager.default.removeItem(at: directory)
    }

    private func launch() async throws {
        var arguments = [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", directory.path, "--logfile", directory.appendingPathComponent("redis.log").path,
            "--daemonize", "no",
        ]
        if let password { arguments += ["--requirepass", password] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process

        // Waits for the server on the port to answer, and to be this one: another test's server may
        // have taken the port between the check that it was free and this server's start.
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            if let answering = Self.processID(answeringOn: port, password: password) {
                if answering == process.processIdentifier { return }
                throw RedisServerError.portTaken(port: port)
            }
            guard process.isRunning else {
                throw RedisServerError.exited(log: log())
            }
            guard ContinuousClock.now < deadline else {
                throw RedisServerError.notAnswering(port: port, log: log())
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    private func log() -> String {
        (try? String(contentsOf: directory.appendingPathComponent("redis.log"), encoding: .utf8)) ?? ""
    }

    private func waitForExit(_ process: Process) async {
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    private static func findExecutable() throws -> String {
        let candidates = [ProcessInfo.processInfo.environment["REDIS_SERVER"]].compactMap { $0 }
            + ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/opt/homebrew/bin/redis-server"]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw RedisServerError.notInstalled
        }
        return found
    }

    // MARK: Raw sockets

    /// The process ID that the server answering on the port reports (`INFO server`), or `nil`
    /// while nothing answers.
    static func processID(answeringOn port: Int, password: String?) -> Int32? {
        guard let socket = try? LoopbackSocket() else { return nil }
        defer { socket.close() }
        var request = ""
        if let password { request += command(["AUTH", password]) }
        request += command(["INFO", "server"])
        guard socket.connect(port: port), socket.send(request) else { return nil }
        // The reply is a bulk string of "field:value" lines, one of them "process_id:1234".
        var received: [UInt8] = []
        while let chunk = socket.receive(), !chunk.isEmpty, received.count < 65536 {
            received += chunk
            let text = String(decoding: received, as: UTF8.self)
            guard let field = text.firstRange(of: "process_id:") else { continue }
            let value = text[field.upperBound...].prefix { $0.isNumber }
            guard text[field.upperBound...].dropFirst(value.count).hasPrefix("\r\n") else { continue }
            return Int32(value)
        }
        return nil
    }

    /// A command in RESP, safe for any argument (inline commands split on spaces).
    private static func command(_ arguments: [String]) -> String {
        "*\(arguments.count)\r\n" + arguments.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
    }
}

public enum RedisServerError: Error, CustomStringConvertible {
    case notInstalled
    case noFreePort
    case exited(log: String)
    case notAnswering(port: Int, log: String)
    case portTaken(port: Int)

    public var description: String {
        switch self {
        case .notInstalled: "redis-server not found: install the Debian package redis-server, or set REDIS_SERVER"
        case .noFreePort: "found no free loopback port for redis-server"
        case .exited(let log): "redis-server exited while starting:\n\(log)"
        case .notAnswering(let port, let log): "redis-server did not answer on port \(port) within 10 s:\n\(log)"
        case .portTaken(let port): "another server took port \(port) before redis-server could listen on it"
        }
    }
}

/// A TCP socket on 127.0.0.1 with short timeouts, enough to probe a server.
/// A blocking loopback TCP socket, for the test servers' own checks.
struct LoopbackSocket {
    let descriptor: Int32

    init() throws {
        #if os(Linux)
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw RedisServerError.noFreePort }
        var timeout = timeval(tv_sec: 0, tv_usec: 500_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func close() {
        #if canImport(Glibc)
        _ = Glibc.close(descriptor)
        #else
        _ = Darwin.close(descriptor)
        #endif
    }

    func connect(port: Int) -> Bool {
        var address = Self.loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                #if canImport(Glibc)
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                #else
                Darwin.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                #endif
            }
        }
    }

    /// True when the port could be bound: nothing listens on it.
    func bind(port: Int) -> Bool {
        var address = Self.loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                #if canImport(Glibc)
                Glibc.bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                #else
                Darwin.bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                #endif
            }
        }
    }

    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) == $0.count }
    }

    /// What has arrived, up to 4 KiB; `nil` on timeout or error, empty at the end of the stream.
    func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        return count >= 0 ? Array(buffer.prefix(count)) : nil
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
