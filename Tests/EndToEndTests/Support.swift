import Foundation
import TestServers
import Testing

/// The `acgs` executable built beside the test bundle.
func acgsBinary() throws -> String {
    if let path = ProcessInfo.processInfo.environment["ACGS_BINARY"] { return path }
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("acgs").path,
        Bundle.main.bundleURL.appendingPathComponent("acgs").path,
        Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("acgs").path,
    ]
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw RunError(message: "acgs binary not found in \(candidates)")
    }
    return found
}

struct RunError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

struct Finished {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a command to completion with optional standard input, on a thread of its own: waiting for a
/// child (an `acgs perf` run takes 20 s) on one of Swift's two cooperative threads stalled every
/// other test's tasks and timers meanwhile (a 300 ms deadline once fired 34 s late in CI).
func run(_ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String]? = nil) async throws -> Finished {
    try await onOwnThread { try runBlocking(executable, arguments, stdin: stdin, environment: environment) }
}

private func runBlocking(_ executable: String, _ arguments: [String], stdin: String?, environment: [String: String]?) throws -> Finished {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
    let stderrData = err.fileHandleForReading.readDataToEndOfFile()
    return Finished(status: process.waitForExit(), stdout: String(decoding: stdoutData, as: UTF8.self), stderr: String(decoding: stderrData, as: UTF8.self))
}

/// Creates an agent offline (`acgs agent create`) and returns its API key, which is printed once.
func createAgent(_ name: String, dataDirectory: String, options: [String] = []) async throws -> String {
    let created = try await run(try acgsBinary(), ["agent", "create", name] + options + ["--data-dir", dataDirectory])
    guard created.status == 0, let line = created.stdout.split(separator: "\n").first(where: { $0.hasPrefix("api key ") }) else {
        throw RunError(message: "acgs agent create \(name) failed: \(created.stdout)\(created.stderr)")
    }
    return String(line.dropFirst("api key ".count))
}

/// A file of the checkout these tests were built from (`scripts/fuzz-api.py`), as an absolute path.
func repositoryFile(_ relativePath: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(relativePath).path
}

func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("acgs-e2e-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A running `acgs serve`, stopped with SIGTERM when done.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let log: String

    init(arguments: [String], environment: [String: String] = [:]) async throws {
        // A server left running on the guide's ports would answer for this one: refuse to start.
        for port in [32768, 8016, 8002, 8008] {
            let probe = try await run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "1", "http://localhost:\(port)/health"])
            if probe.stdout != "000" { throw RunError(message: "port \(port) is already served (a server left running?); stop it first") }
        }
        log = try temporaryDirectory() + "/serve.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: try acgsBinary())
        process.arguments = ["serve"] + arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ACGS_") }.merging(environment) { $1 }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    /// Waits until `url` answers, or fails after `seconds`.
    // Generous: a debug build computes two bcrypt hashes (cost 12) at first start, on cores the
    // other test suites are using too.
    func waitUntilServing(_ url: String, seconds: Double = 90) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if !process.isRunning { throw RunError(message: "acgs serve exited: \(logText)") }
            if let result = try? await run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", url]), result.stdout == "200" {
                // Another server left on the port would answer too; ours must still be running.
                try await Task.sleep(for: .milliseconds(200))
                guard process.isRunning else { throw RunError(message: "acgs serve exited (is another server on its ports?): \(logText)") }
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw RunError(message: "acgs serve did not answer \(url) in time: \(logText)")
    }

    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// The exit status, once this process has waited for it.
    private var exitStatus: Int32?

    /// Kills the server with SIGKILL: no shutdown, no final flush.
    func kill() {
        guard exitStatus == nil else { return }
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        exitStatus = process.waitForExit()
    }

    /// SIGTERM, then the exit status; a server still running 30 s later is killed (status -1), so
    /// that a shutdown that hangs fails its test instead of the whole run.
    func stop() -> Int32 {
        if let exitStatus { return exitStatus }
        guard process.isRunning else { return process.terminationStatus }
        process.terminate()
        if let status = process.waitForExit(timeout: 30) {
            exitStatus = status
            return status
        }
        kill()
        return -1
    }
}
