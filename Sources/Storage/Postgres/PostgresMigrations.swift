extension PostgresMigration {
    /// The schema of every PostgreSQL repository, in the order it grew.
    public static let all: [PostgresMigration] = [
        PostgresIdentityRepository.migration,
        PostgresAuditRepository.migration,
        PostgresReviewRepository.migration,
        PostgresWebhookRepository.migration,
        PostgresCacheGenerations.migration,
        PostgresAuditRepository.appendFunction,
        PostgresWebhookRepository.claims,
    ]
}
