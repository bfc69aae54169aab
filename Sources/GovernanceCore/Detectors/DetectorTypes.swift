/// What a detector found: which kind, where (UTF-8 offsets into the scanned text) and how to show it.
public struct DetectedSpan: Sendable, Hashable {
    public enum Category: String, Sendable, Hashable, Codable {
        case pii
        case secret
        case injection
    }

    /// Category of the finding: personal data, a secret, or a prompt-injection marker.
    public let category: Category
    /// Specific kind, such as `email`, `credit_card`, `aws_access_key`, `ignore_instructions`.
    public let kind: String
    /// UTF-8 byte offsets of the match in the scanned string.
    public let utf8Range: Range<Int>
    /// The matched text with personal data and secrets masked; safe to log, store and return.
    public let masked: String

    public init(category: Category, kind: String, utf8Range: Range<Int>, masked: String) {
        self.category = category
        self.kind = kind
        self.utf8Range = utf8Range
        self.masked = masked
    }
}
