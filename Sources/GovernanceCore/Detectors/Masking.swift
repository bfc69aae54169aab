/// Replaces personal data and secrets in text with their masked forms.
public enum Masking {
    /// The value with every string masked: what is stored and shown instead of the original.
    public static func mask(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let s): .string(mask(s))
        case .array(let items): .array(items.map(mask))
        case .object(let fields): .object(fields.mapValues(mask))
        default: value
        }
    }

    /// Returns text with every PII and secret span replaced by its masked form.
    /// Where a secret and PII overlap (a card number assigned to `password=`), the secret wins.
    /// Masking is idempotent: masked forms are not detected again.
    public static func mask(_ text: String) -> String {
        ScanBytes.with(text) { p in
            let pii = PIIDetector.scan(bytes: p, kinds: nil)
            let secrets = SecretDetector.scan(bytes: p, kinds: nil)
            if pii.isEmpty && secrets.isEmpty { return text }
            let spans = secrets.isEmpty ? pii
                : pii.isEmpty ? secrets
                : DetectorSupport.resolveOverlaps(pii + secrets) { $0.category == .secret ? 1 : 0 }
            return apply(spans, to: p)
        }
    }

    /// Returns `text` with each span's range replaced by its `masked` string. Spans must come
    /// from scanning this same text; overlapping or out-of-range spans are skipped.
    public static func apply(_ spans: [DetectedSpan], to text: String) -> String {
        guard !spans.isEmpty else { return text }
        return ScanBytes.with(text) { p in
            apply(spans.sorted { $0.utf8Range.lowerBound < $1.utf8Range.lowerBound }, to: p)
        }
    }

    static func apply(_ spans: [DetectedSpan], to p: ScanBytes) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(p.count + 16 * spans.count)
        var last = 0
        for span in spans {
            let r = span.utf8Range
            guard r.lowerBound >= last, r.upperBound <= p.count else { continue }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: p.buffer[last..<r.lowerBound]))
            out.append(contentsOf: span.masked.utf8)
            last = r.upperBound
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: p.buffer[last..<p.count]))
        return String(decoding: out, as: UTF8.self)
    }
}
