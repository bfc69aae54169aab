import PostgresNIO

/// The replicas' shared cache generation, one row in PostgreSQL.
public struct PostgresCacheGenerations: CacheGenerationStore {
    let store: PostgresStore

    static let migration = PostgresMigration(
        version: 5, name: "cache generations",
        statements: ["CREATE TABLE cache_generations (name TEXT PRIMARY KEY, generation BIGINT NOT NULL)"])

    public init(store: PostgresStore) {
        self.store = store
    }

    public func current() async throws -> Int {
        let rows = try await store.query("SELECT generation FROM cache_generations WHERE name = 'validations'")
        return Int(try rows.first?.decode(Int64.self) ?? 0)
    }

    public func advance() async throws -> Int {
        let rows = try await store.query(
            """
            INSERT INTO cache_generations (name, generation) VALUES ('validations', 1)
            ON CONFLICT (name) DO UPDATE SET generation = cache_generations.generation + 1
            RETURNING generation
            """)
        return Int(try rows.first?.decode(Int64.self) ?? 0)
    }
}
