extension PostgresMigration {
    /// The schema of every PostgreSQL repository, in the order it grew (by version; 2 is the audit log's).
    public static let all: [PostgresMigration] = [
        PostgresIdentityRepository.migration,
        PostgresReviewRepository.migration,
        PostgresWebhookRepository.migration,
    ]
}
