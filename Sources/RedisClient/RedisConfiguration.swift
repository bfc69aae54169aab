/// Where the server is, how to log in, and how long to wait. Built from a `redis://` URL or field
/// by field.
public struct RedisConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
    /// An ACL user (Redis 6 and later); `nil` logs in as the default user.
    public var username: String?
    /// Sent with AUTH on each new connection; `nil` sends no AUTH.
    public var password: String?
    /// Selected on each new connection.
    public var database: Int

    /// The longest wait for a TCP connection to be made.
    public var connectTimeout: Duration = .seconds(2)
    /// The longest wait for any reply. A command that gets none fails, and its connection is closed.
    public var commandTimeout: Duration = .seconds(1)
    /// How many connections the client shares its commands over.
    public var poolSize: Int = 4
    /// The waits between failed attempts to connect.
    public var reconnectBackoff: Backoff = Backoff()
    /// How often a client that runs as a service pings the server, so its health is current even
    /// without traffic.
    public var healthCheckInterval: Duration = .seconds(5)
    /// How long a subscription's connection may stay silent before it is pinged; a second silent
    /// interval closes it and it reconnects. Catches connections lost without a TCP reset.
    public var subscriptionPingInterval: Duration = .seconds(15)

    public init(host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Exponential backoff: `initial`, doubled after each failure in a row, up to `maximum`.
    public struct Backoff: Sendable, Hashable {
        public var initial: Duration
        public var maximum: Duration

        public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5)) {
            self.initial = initial
            self.maximum = maximum
        }

        /// The wait after `failures` failed attempts in a row (the first failure is 1).
        public func delay(afterFailures failures: Int) -> Duration {
            let doublings = min(max(failures - 1, 0), 30)
            return min(initial * (1 << doublings), maximum)
        }
    }

    /// The commands a new connection sends before any other: log in, then choose the database.
    var handshake: [[String]] {
        var commands: [[String]] = []
        if let password {
            commands.append(["AUTH"] + (username.map { [$0] } ?? []) + [password])
        }
        if database != 0 { commands.append(["SELECT", String(database)]) }
        return commands
    }
}

extension RedisConfiguration: CustomStringConvertible {
    /// The URL without the password, fit for logs.
    public var description: String {
        let credentials = password == nil ? (username.map { "\($0)@" } ?? "") : "\(username ?? ""):***@"
        let address = host.contains(":") ? "[\(host)]" : host
        return "redis://\(credentials)\(address):\(port)/\(database)"
    }
}
