import Foundation
import GovernanceCore
import TestServers
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One `acgs serve` replica on ports of its own, on PostgreSQL and Redis, for the deployment tests.
struct Replica {
    let server: ServerProcess
    let ports: [String: Int]

    var validatePort: Int { ports["constitutional_ai"]! }
    var authPort: Int { ports["auth"]! }
    var integrityPort: Int { ports["integrity"]! }

    /// Starts a replica with the shared data directory (the signing keys) and the given backends.
    static func start(dataDir: String, environment: [String: String]) async throws -> Replica {
        var ports: [String: Int] = [:]
        for service in ["constitutional_ai", "integrity", "agent_hitl", "auth"] { ports[service] = try FreePort.next() }
        let config = try temporaryDirectory() + "/replica.yaml"
        let yaml = "host: 127.0.0.1\nports:\n" + ports.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)\n" }.joined()
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let server = try await ServerProcess(arguments: ["--data-dir", dataDir, "--config", config], environment: environment)
        return Replica(server: server, ports: ports)
    }

    func waitUntilReady() async throws {
        try await server.waitUntilServing("http://127.0.0.1:\(validatePort)/health/ready")
    }
}

/// NGINX in front of the replicas, with the shipped configuration (`deploy/nginx/acgs.conf`): its
/// `server` lines pointed at the replicas' loopback ports and its listeners at free ones.
final class LoadBalancer: @unchecked Sendable {
    let process = Process()
    let directory: String
    /// The balancer's port for each service's upstream.
    let ports: [String: Int]

    init(replicas: [Replica]) throws {
        directory = try temporaryDirectory()
        let shipped = try String(contentsOfFile: repositoryFile("deploy/nginx/acgs.conf"), encoding: .utf8)
        let services = [(32768, "constitutional_ai"), (8002, "integrity"), (8008, "agent_hitl"), (8016, "auth")]
        var ports: [String: Int] = [:]
        var config = shipped
        for (guidePort, service) in services {
            let port = try FreePort.next()
            ports[service] = port
            config = config.replacingOccurrences(of: "listen \(guidePort);", with: "listen 127.0.0.1:\(port);")
            for (i, replica) in replicas.enumerated() {
                config = config.replacingOccurrences(of: "server acgs_\(i + 1):\(guidePort) ", with: "server 127.0.0.1:\(replica.ports[service]!) ")
            }
        }
        self.ports = ports
        try config.write(toFile: directory + "/acgs.conf", atomically: true, encoding: .utf8)
        let main = """
            \(getuid() == 0 ? "user root;" : "")
            worker_processes 1;
            pid \(directory)/nginx.pid;
            error_log \(directory)/error.log warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path \(directory)/body;
                proxy_temp_path \(directory)/proxy;
                include \(directory)/acgs.conf;
            }
            """
        try main.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-p", directory, "-c", directory + "/nginx.conf", "-g", "daemon off;"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/error.log").creatingFile())
        try process.run()
    }

    func url(_ service: String, _ path: String) -> String { "http://127.0.0.1:\(ports[service]!)\(path)" }

    func stop() {
        if process.isRunning {
            process.terminate()
            _ = process.waitForExit()
        }
    }
}

extension URL {
    func creatingFile() -> URL {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return self
    }
}

/// A small JSON client for the live tests.
enum HTTP {
    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 90
        configuration.httpMaximumConnectionsPerHost = 32
        return URLSession(configuration: configuration)
    }()

    static func call(_ method: String, _ url: String, bearer: String? = nil, body: String? = nil) async throws -> (status: Int, json: JSONValue) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.setValue("cdd01ef066bc6cf2", forHTTPHeaderField: "X-Constitutional-Hash")
        if let bearer { request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.utf8)
        }
        let (data, response) = try await session.data(for: request)
        let json = (try? JSONDecoder().decode(JSONValue.self, from: data)) ?? .null
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, json)
    }

    static func adminToken(password: String) async throws -> String {
        let grant = try await call(
            "POST", "http://localhost:8016/api/v1/auth/token",
            body: CanonicalJSON.encode(["grant_type": "password", "username": "admin", "password": .string(password)]))
        return try #require(grant.json["access_token"].stringValue, "\(grant)")
    }

    /// Sends a request; the status and the JSON body (null when there is none).
    static func send(
        _ method: String, _ url: String, json: JSONValue? = nil, bearer: String? = nil, hash: String? = "cdd01ef066bc6cf2"
    ) async throws -> (status: Int, body: JSONValue) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        if let json {
            request.httpBody = Data(CanonicalJSON.encode(json).utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let bearer { request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
        if let hash { request.setValue(hash, forHTTPHeaderField: "X-Constitutional-Hash") }
        let (data, response) = try await session.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        return (status, (try? JSONDecoder().decode(JSONValue.self, from: data)) ?? .null)
    }


    /// An admin's access token, by password, from the Auth service at `url`.
    static func adminToken(_ url: String, password: String) async throws -> String {
        let grant = try await send("POST", url, json: ["grant_type": "password", "username": "admin", "password": .string(password)])
        guard grant.status == 200, let token = grant.body["access_token"].stringValue else {
            throw RunError(message: "admin sign-in failed: \(grant.status) \(grant.body)")
        }
        return token
    }

    /// A new agent's API key, created by an admin through `authBase` (`http://host:port`).
    static func newAgentKey(_ authBase: String, adminToken: String, name: String) async throws -> String {
        let agent = try await send("POST", authBase + "/api/v1/auth/agents", json: ["name": .string(name), "owner": "e2e"], bearer: adminToken)
        guard agent.status == 201 || agent.status == 200, let id = agent.body["id"].stringValue else {
            throw RunError(message: "agent creation failed: \(agent.status) \(agent.body)")
        }
        let key = try await send("POST", authBase + "/api/v1/auth/agents/\(id)/keys", json: [:], bearer: adminToken)
        guard let apiKey = key.body["api_key"].stringValue else { throw RunError(message: "key creation failed: \(key.status) \(key.body)") }
        return apiKey
    }

    /// A varied action, so that decisions miss the cache and each is a distinct audit entry.
    static func action(_ n: Int) -> JSONValue {
        ["action": ["type": "http_request", "tool": "fetch", "arguments": ["url": .string("https://example.com/items/\(n)")]]]
    }
}
