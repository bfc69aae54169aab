extension RedisConfiguration {
    /// Reads `redis://[[username]:password@]host[:port][/database]`. The port defaults to 6379 and
    /// the database to 0; user and password may be percent-encoded; an IPv6 host goes in brackets.
    /// `rediss://` is refused: this client has no TLS.
    public init(url: String) throws(RedisError) {
        func invalid(_ reason: String) -> RedisError { .invalidConfiguration("\(reason) in \"\(Self.redacted(url))\"") }

        guard let schemeEnd = url.firstRange(of: "://") else { throw invalid("no scheme (expected redis://)") }
        switch url[..<schemeEnd.lowerBound].lowercased() {
        case "redis": break
        case "rediss": throw invalid("TLS (rediss://) is not supported")
        case let other: throw invalid("unsupported scheme \"\(other)\" (expected redis://)")
        }
        var rest = Substring(url[schemeEnd.upperBound...])
        if rest.contains("?") || rest.contains("#") { throw invalid("query and fragment are not supported") }

        // Path: the database number.
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else { throw invalid("database \"\(path)\" is not a number") }
                database = number
            }
        }

        // User information, up to the last "@" (a password may hold "@" when not encoded).
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            guard let colon = userInfo.firstIndex(of: ":") else {
                throw invalid("credentials without a colon (write redis://:password@host or redis://user:password@host)")
            }
            let user = try Self.percentDecoded(userInfo[..<colon], orThrow: invalid("invalid percent-encoding in the username"))
            username = user.isEmpty ? nil : user
            password = try Self.percentDecoded(userInfo[userInfo.index(after: colon)...], orThrow: invalid("invalid percent-encoding in the password"))
        }

        // Host and port; an IPv6 address is bracketed.
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw invalid("unclosed \"[\" in the host") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let afterHost = rest[rest.index(after: close)...]
            if !afterHost.isEmpty {
                guard afterHost.hasPrefix(":") else { throw invalid("unexpected text after the host") }
                portText = afterHost.dropFirst()
            }
        } else if let colon = rest.firstIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw invalid("no host") }
        var port = 6379
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else { throw invalid("port \"\(portText)\" is not a number from 1 to 65535") }
            port = number
        }
        self.init(host: String(host), port: port, username: username, password: password, database: database)
    }

    private static func percentDecoded(_ text: Substring, orThrow error: RedisError) throws(RedisError) -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { throw error }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The URL with its password replaced, so errors can quote it.
    private static func redacted(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://"), let at = url[schemeEnd.upperBound...].lastIndex(of: "@"),
            let colon = url[schemeEnd.upperBound..<at].firstIndex(of: ":")
        else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
    }
}
