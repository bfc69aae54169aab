import Testing

@testable import RedisClient

@Suite("Redis URLs and settings")
struct RedisConfigurationTests {
    @Test("host alone: port 6379, database 0, no login")
    func defaults() throws {
        let configuration = try RedisConfiguration(url: "redis://cache.internal")
        #expect(configuration.host == "cache.internal")
        #expect(configuration.port == 6379)
        #expect(configuration.database == 0)
        #expect(configuration.username == nil)
        #expect(configuration.password == nil)
        #expect(configuration.handshake.isEmpty)
        #expect(configuration.commandTimeout == .seconds(1))
        #expect(configuration.poolSize == 4)
    }

    @Test("user, percent-encoded password, port and database")
    func everything() throws {
        let configuration = try RedisConfiguration(url: "redis://app:p%40ss%3Aword@10.0.0.5:6380/3")
        #expect(configuration.host == "10.0.0.5")
        #expect(configuration.port == 6380)
        #expect(configuration.database == 3)
        #expect(configuration.username == "app")
        #expect(configuration.password == "p@ss:word")
        #expect(configuration.handshake == [["AUTH", "app", "p@ss:word"], ["SELECT", "3"]])
    }

    @Test("password without a user logs in as the default user")
    func passwordOnly() throws {
        let configuration = try RedisConfiguration(url: "redis://:secret@localhost/")
        #expect(configuration.username == nil)
        #expect(configuration.password == "secret")
        #expect(configuration.database == 0)
        #expect(configuration.handshake == [["AUTH", "secret"]])
    }

    @Test("an IPv6 host in brackets")
    func ipv6() throws {
        let configuration = try RedisConfiguration(url: "redis://[::1]:7000/1")
        #expect(configuration.host == "::1")
        #expect(configuration.port == 7000)
        #expect(configuration.database == 1)
    }

    @Test("rediss:// is refused: no TLS")
    func tlsRefused() throws {
        let error = #expect(throws: RedisError.self) { try RedisConfiguration(url: "rediss://:pw@host:6380") }
        #expect(error?.description.contains("TLS") == true)
        #expect(error?.description.contains("pw") == false, "the password must not appear in errors")
    }

    @Test(
        "malformed URLs are refused",
        arguments: [
            "http://host", "host:6379", "redis://", "redis://:6379", "redis://host:0", "redis://host:65536", "redis://host:abc",
            "redis://host/x", "redis://host/-1", "redis://secret@host", "redis://host?timeout=1", "redis://[::1", "redis://:p%zz@host",
        ])
    func malformed(_ url: String) throws {
        #expect(throws: RedisError.self) { try RedisConfiguration(url: url) }
    }

    @Test("its description hides the password")
    func redacted() throws {
        let configuration = try RedisConfiguration(url: "redis://app:hunter2@host:1/2")
        #expect(configuration.description == "redis://app:***@host:1/2")
    }

    @Test("backoff doubles from its start up to its maximum")
    func backoff() {
        let backoff = RedisConfiguration.Backoff(initial: .milliseconds(100), maximum: .seconds(1))
        #expect((1...6).map { backoff.delay(afterFailures: $0) } == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        #expect(backoff.delay(afterFailures: 1000) == .seconds(1))
    }
}
