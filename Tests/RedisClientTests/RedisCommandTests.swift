import NIOCore
import RedisClient
import TestServers
import Testing

@Suite("Commands against a real redis-server")
struct RedisCommandTests {
    @Test("SET then GET; a missing key is nil")
    func setAndGet() async throws {
        try await withRedis { _, client in
            try await client.set("greeting", "hello, world")
            #expect(try await client.get("greeting") == "hello, world")
            #expect(try await client.get("missing") == nil)
        }
    }

    @Test("SET with an expiry: the key has a TTL, then is gone")
    func expiry() async throws {
        try await withRedis { _, client in
            // The TTL is read on a long expiry: on a busy machine a second can pass before it is asked.
            try await client.set("cached", "c", expirySeconds: 60)
            #expect((1...60).contains(try await client.send(["TTL", "cached"]).integer ?? 0))
            try await client.set("session", "s1", expirySeconds: 1)
            try await client.set("kept", "k")
            #expect(try await client.send(["TTL", "kept"]).integer == -1)
            try await waitUntil("the key expires", timeout: .seconds(10)) { (try? await client.get("session")) == .some(nil) }
            #expect(try await client.get("kept") == "k")
        }
    }

    @Test("DEL counts the keys that existed")
    func del() async throws {
        try await withRedis { _, client in
            try await client.set("a", "1")
            try await client.set("b", "2")
            #expect(try await client.del("a", "b", "c") == 2)
            #expect(try await client.del("a") == 0)
            #expect(try await client.get("b") == nil)
        }
    }

    @Test("INCR counts up from zero; on text it is a server error")
    func incr() async throws {
        try await withRedis { _, client in
            #expect(try await client.incr("n") == 1)
            #expect(try await client.incr("n") == 2)
            try await client.set("text", "abc")
            let error = await #expect(throws: RedisError.self) { try await client.incr("text") }
            guard case .server(let message)? = error else {
                Issue.record("expected a server error, got \(String(describing: error))")
                return
            }
            #expect(message.contains("not an integer"))
            #expect(client.isHealthy, "an error reply does not make the client unhealthy")
        }
    }

    @Test("a pipeline of 1000 commands: one reply each, in order")
    func pipeline() async throws {
        try await withRedis { _, client in
            let replies = try await client.pipeline(Array(repeating: ["INCR", "counter"], count: 1000))
            #expect(replies == (1...1000).map { .integer($0) })

            // An error reply in the middle does not stop the others.
            let mixed = try await client.pipeline([["SET", "k", "v"], ["INCR", "k"], ["GET", "k"]])
            #expect(mixed[0] == .simpleString("OK"))
            guard case .error = mixed[1] else {
                Issue.record("expected an error reply, got \(mixed[1])")
                return
            }
            #expect(mixed[2] == .bulkString("v"))
        }
    }

    @Test("many tasks at once share the pool and each get their own replies")
    func concurrentUse() async throws {
        try await withRedis { _, client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<50 {
                    group.addTask {
                        for step in 0..<20 {
                            try await client.set("task:\(task)", "\(step)")
                            #expect(try await client.get("task:\(task)") == "\(step)")
                            try await client.incr("shared")
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await client.get("shared") == "1000")
        }
    }

    @Test("raw-byte commands are binary-safe")
    func binary() async throws {
        try await withRedis { _, client in
            let bytes = ByteBuffer(bytes: Array(0...255) + [13, 10])
            try await client.send([ByteBuffer(string: "SET"), ByteBuffer(string: "blob"), bytes])
            #expect(try await client.send([ByteBuffer(string: "GET"), ByteBuffer(string: "blob")]) == .bulkString(bytes))
        }
    }

    @Test("health is unknown before the first exchange, then healthy")
    func health() async throws {
        try await withRedis { _, client in
            #expect(!client.isHealthy)
            #expect(client.lastError == nil)
            try await client.ping()
            #expect(client.isHealthy)
            #expect(client.lastError == nil)
        }
    }
}

@Suite("Logging in and choosing a database")
struct RedisLoginTests {
    @Test("the password from the URL logs in, with or without a user name")
    func password() async throws {
        try await RedisServer.withServer(password: "s3cret") { server in
            try await withClient(try testConfiguration(server)) { client in
                try await client.set("k", "v")
                #expect(try await client.get("k") == "v")
            }
            var withUser = try testConfiguration(server)
            withUser.username = "default"
            try await withClient(withUser) { client in try await client.ping() }
        }
    }

    @Test("a wrong password is an authentication error, and the client unhealthy")
    func wrongPassword() async throws {
        try await RedisServer.withServer(password: "s3cret") { server in
            try await withClient(try testConfiguration(server, password: "wrong")) { client in
                let error = await #expect(throws: RedisError.self) { try await client.ping() }
                guard case .authenticationFailed(let message)? = error else {
                    Issue.record("expected an authentication failure, got \(String(describing: error))")
                    return
                }
                #expect(message.contains("WRONGPASS"))
                #expect(error?.description.contains("refused authentication") == true)
                #expect(!client.isHealthy)
                #expect(client.lastError == error)
            }
        }
    }

    @Test("no password where one is required: each command is refused")
    func missingPassword() async throws {
        try await RedisServer.withServer(password: "s3cret") { server in
            var configuration = try testConfiguration(server)
            configuration.password = nil
            try await withClient(configuration) { client in
                let error = await #expect(throws: RedisError.self) { try await client.get("k") }
                guard case .server(let message)? = error else {
                    Issue.record("expected a server error, got \(String(describing: error))")
                    return
                }
                #expect(message.hasPrefix("NOAUTH"))
            }
        }
    }

    @Test("the database in the URL is selected: keys in db 2 are not in db 0")
    func database() async throws {
        try await RedisServer.withServer { server in
            try await withClient(try testConfiguration(server, database: 2)) { db2 in
                try await db2.set("only-in-2", "yes")
                #expect(try await db2.get("only-in-2") == "yes")
            }
            let inDatabase0 = try await withClient(try testConfiguration(server, database: 0)) { db0 in
                try await db0.get("only-in-2")
            }
            #expect(inDatabase0 == nil)
        }
    }
}
