import Foundation
import GovernanceCore

/// What an audit entry is about.
public enum AuditEntryType: String, Sendable, CaseIterable, Codable {
    case decision, review, auth, constitution, system
}

/// Something a service asks the log to record. The log gives it its index and time.
public struct AuditEvent: Sendable, Equatable {
    public let type: AuditEntryType
    /// Who acted: an identity id, `system`, or `anonymous`.
    public let actor: String
    public let constitutionalHash: String
    /// The ids the entry is about (a decision id, an agent id, a key id ...).
    public let subjects: [String]
    /// The payload as canonical JSON, with secrets and personal data already masked.
    public let payload: String
    /// SHA-256 of the unmasked input, so that a holder of the original can prove what was judged.
    public let inputDigest: String?
    /// For a decision that denied or escalated, its outcome: stored beside the entry (not in it) so
    /// that an agent's recent denials and escalations are counted from an index, not a scan.
    public let outcome: String?
    /// The entry's canonical JSON around its index and timestamp, encoded here, in the caller's task,
    /// so that the log's serial commit only joins the pieces.
    let encodedPrefix: String
    let encodedMiddle: String
    let encodedSuffix: String

    public init(
        type: AuditEntryType, actor: String, constitutionalHash: String, subjects: [String] = [], payload: JSONValue,
        inputDigest: String? = nil
    ) {
        self.init(
            type: type, actor: actor, constitutionalHash: constitutionalHash, subjects: subjects,
            canonicalPayload: CanonicalJSON.encode(payload), inputDigest: inputDigest)
    }

    /// An event whose payload is already canonical JSON (the decision path encodes it once per input).
    public init(
        type: AuditEntryType, actor: String, constitutionalHash: String, subjects: [String] = [], canonicalPayload: String,
        inputDigest: String? = nil, outcome: String? = nil
    ) {
        self.outcome = outcome
        self.type = type
        self.actor = actor
        self.constitutionalHash = constitutionalHash
        self.subjects = subjects
        self.payload = canonicalPayload
        self.inputDigest = inputDigest
        // Keys in canonical order: actor, constitutional_hash, index, input_digest, payload, subjects, timestamp, type.
        var prefix = #"{"actor":"#
        prefix.reserveCapacity(actor.utf8.count + constitutionalHash.utf8.count + 48)
        CanonicalJSON.writeString(actor, into: &prefix)
        prefix += #","constitutional_hash":"#
        CanonicalJSON.writeString(constitutionalHash, into: &prefix)
        prefix += #","index":"#
        var middle = ""
        middle.reserveCapacity(canonicalPayload.utf8.count + 160)
        if let inputDigest {
            middle += #","input_digest":"#
            CanonicalJSON.writeString(inputDigest, into: &middle)
        }
        middle += #","payload":"#
        middle += canonicalPayload
        middle += #","subjects":["#
        for (i, subject) in subjects.enumerated() {
            if i > 0 { middle += "," }
            CanonicalJSON.writeString(subject, into: &middle)
        }
        middle += #"],"timestamp":"#
        var suffix = #","type":"#
        CanonicalJSON.writeString(type.rawValue, into: &suffix)
        suffix += "}"
        self.encodedPrefix = prefix
        self.encodedMiddle = middle
        self.encodedSuffix = suffix
    }

    public static func == (a: AuditEvent, b: AuditEvent) -> Bool {
        a.type == b.type && a.actor == b.actor && a.constitutionalHash == b.constitutionalHash && a.subjects == b.subjects
            && a.payload == b.payload && a.inputDigest == b.inputDigest
    }
}

/// One entry of the log: an event with its index and time. Its leaf in the Merkle tree is the UTF-8
/// of its canonical JSON (`text`), hashed as RFC 6962 says: `SHA-256(0x00 || text)`.
public struct AuditEntry: Sendable, Equatable {
    public var index: Int
    /// RFC 3339, UTC, milliseconds: `2026-11-22T12:00:00.123Z`.
    public var timestamp: String
    public var event: AuditEvent

    public init(index: Int, timestamp: String, event: AuditEvent) {
        self.index = index
        self.timestamp = timestamp
        self.event = event
    }

    /// The canonical JSON of the entry: the event's pre-encoded pieces around the index and the
    /// timestamp (which needs no escaping: `AuditClock` writes only digits and separators).
    public var text: String {
        var out = event.encodedPrefix
        out.reserveCapacity(out.utf8.count + event.encodedMiddle.utf8.count + 64)
        out += String(index)
        out += event.encodedMiddle
        out += "\""
        out += timestamp
        out += "\""
        out += event.encodedSuffix
        return out
    }

    public var leafHash: [UInt8] { MerkleHash.leaf(utf8: text) }

    public var json: JSONValue {
        var fields: [String: JSONValue] = [
            "index": .number(Double(index)), "timestamp": .string(timestamp), "type": .string(event.type.rawValue),
            "actor": .string(event.actor), "constitutional_hash": .string(event.constitutionalHash),
            "subjects": .array(event.subjects.map(JSONValue.string)),
            "payload": (try? JSONValue.parse(event.payload)) ?? .string(event.payload),
        ]
        if let digest = event.inputDigest { fields["input_digest"] = .string(digest) }
        return .object(fields)
    }

    /// Reads an entry back from its stored text, refusing anything that is not exactly the canonical
    /// form of a well-formed entry: a verifier must hash the very bytes that were appended.
    public init(text: String) throws(AuditEntryError) {
        let value: JSONValue
        do { value = try JSONValue.parse(text) } catch { throw .malformed("not JSON: \(error)") }
        guard case .object(let fields) = value else { throw .malformed("not a JSON object") }
        let known: Set<String> = ["index", "timestamp", "type", "actor", "constitutional_hash", "subjects", "payload", "input_digest"]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) { throw .malformed("unknown field '\(unknown)'") }
        guard let number = fields["index"]?.numberValue, number >= 0, number == number.rounded(), number < 9_007_199_254_740_992 else {
            throw .malformed("'index' is not a non-negative integer")
        }
        guard let timestamp = fields["timestamp"]?.stringValue, AuditClock.milliseconds(timestamp) != nil else {
            throw .malformed("'timestamp' is not an RFC 3339 UTC time")
        }
        guard let typeName = fields["type"]?.stringValue, let type = AuditEntryType(rawValue: typeName) else {
            throw .malformed("'type' is not one of \(AuditEntryType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let actor = fields["actor"]?.stringValue else { throw .malformed("'actor' is not a string") }
        guard let hash = fields["constitutional_hash"]?.stringValue else { throw .malformed("'constitutional_hash' is not a string") }
        guard let subjectValues = fields["subjects"]?.arrayValue else { throw .malformed("'subjects' is not a list") }
        var subjects: [String] = []
        for subject in subjectValues {
            guard let s = subject.stringValue else { throw .malformed("'subjects' holds a non-string") }
            subjects.append(s)
        }
        guard let payload = fields["payload"] else { throw .malformed("'payload' is missing") }
        var digest: String?
        if let d = fields["input_digest"] {
            guard let s = d.stringValue else { throw .malformed("'input_digest' is not a string") }
            digest = s
        }
        self.init(
            index: Int(number), timestamp: timestamp,
            event: AuditEvent(
                type: type, actor: actor, constitutionalHash: hash, subjects: subjects, canonicalPayload: CanonicalJSON.encode(payload),
                inputDigest: digest))
        guard self.text == text else { throw .notCanonical }
    }
}

public enum AuditEntryError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    /// Well-formed, but not byte for byte the canonical form that was hashed.
    case notCanonical

    public var description: String {
        switch self {
        case .malformed(let why): "malformed entry: \(why)"
        case .notCanonical: "the entry is not in canonical JSON form"
        }
    }
}

/// Times in the log: RFC 3339 in UTC with milliseconds, formatted without Foundation's formatters
/// (the decision path writes one per batch) and read back exactly.
public enum AuditClock {
    public static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    public static func format(milliseconds ms: Int64) -> String {
        let millis = Int(((ms % 1000) + 1000) % 1000)
        let seconds = (ms - Int64(millis)) / 1000
        var days = Int(seconds / 86_400)
        var secondOfDay = Int(seconds % 86_400)
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (y, m, d) = civil(fromDays: days)
        // Every entry and review step formats a time: written in place, without intermediate strings.
        let text = String(unsafeUninitializedCapacity: 24) { text in
            func put(_ n: Int, digits: Int, at offset: Int) {
                var n = n
                for i in stride(from: offset + digits - 1, through: offset, by: -1) {
                    text[i] = UInt8(ascii: "0") + UInt8(n % 10)
                    n /= 10
                }
            }
            put(min(max(y, 0), 9999), digits: 4, at: 0)
            put(m, digits: 2, at: 5)
            put(d, digits: 2, at: 8)
            put(secondOfDay / 3600, digits: 2, at: 11)
            put(secondOfDay / 60 % 60, digits: 2, at: 14)
            put(secondOfDay % 60, digits: 2, at: 17)
            put(millis, digits: 3, at: 20)
            (text[4], text[7], text[10]) = (UInt8(ascii: "-"), UInt8(ascii: "-"), UInt8(ascii: "T"))
            (text[13], text[16], text[19], text[23]) = (UInt8(ascii: ":"), UInt8(ascii: ":"), UInt8(ascii: "."), UInt8(ascii: "Z"))
            return 24
        }
        // A year outside four digits (no clock of today's) keeps the same form around a longer year.
        return (0...9999).contains(y) ? text : String(y).leftPadded(4) + text.dropFirst(4)
    }

    public static func format(_ date: Date) -> String { format(milliseconds: milliseconds(date)) }

    /// Milliseconds since 1970 of a time written as `format` writes it; nil for anything else.
    public static func milliseconds(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count == 24, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"), b[13] == UInt8(ascii: ":"),
            b[16] == UInt8(ascii: ":"), b[19] == UInt8(ascii: "."), b[23] == UInt8(ascii: "Z")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var n = 0
            for i in range {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                n = n * 10 + Int(b[i] - 48)
            }
            return n
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10), let hh = number(11..<13), let mm = number(14..<16),
            let ss = number(17..<19), let ms = number(20..<23), (1...12).contains(m), (1...31).contains(d), hh < 24, mm < 60, ss < 60
        else { return nil }
        let days = daysFromCivil(y, m, d)
        let result = Int64(days) * 86_400_000 + Int64(hh * 3_600_000 + mm * 60_000 + ss * 1000 + ms)
        // Refuse dates such as 31 February, which would not format back to the same text.
        return format(milliseconds: result) == text ? result : nil
    }

    // Howard Hinnant's civil calendar algorithms (proleptic Gregorian).
    static func civil(fromDays z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
