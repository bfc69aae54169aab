import Foundation
import Logging

/// Log lines on standard error, in the format of swift-log's `StreamLogHandler`, but with metadata
/// formatted only when a line is written. The HTTP server attaches a request id to the logger of
/// every request; `StreamLogHandler` formats its whole metadata again at each such change, a cost
/// paid on every request even when nothing is logged.
struct ServerLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, logLevel: Logger.Level, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided, uniquingKeysWith: { _, new in new }) }
        if let extra = event.metadata { all.merge(extra, uniquingKeysWith: { _, new in new }) }
        let fields = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let line = "\(Date.now.ISO8601Format()) \(event.level) \(label):\(fields) [\(event.source)] \(event.message)\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
