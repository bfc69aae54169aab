extension PostgresMigration {
    /// The schema of every PostgreSQL repository, in the order it grew.
    public static let all: [PostgresMigration] = [PostgresAuditRepository.migration, PostgresCacheGenerations.migration]
}
