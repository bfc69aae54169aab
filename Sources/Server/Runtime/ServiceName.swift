import Foundation

/// The services of the deployment guide. Each is a listener over the shared core.
public enum ServiceName: String, Sendable, Hashable, CaseIterable, Codable {
    case constitutionalAI = "constitutional-ai"
    case auth
    case integrity
    case agentHITL = "agent-hitl"

    /// The port of the deployment guide.
    public var defaultPort: Int {
        switch self {
        case .constitutionalAI: 32768
        case .auth: 8016
        case .integrity: 8002
        case .agentHITL: 8008
        }
    }

    /// The key naming this service in configuration files and environment variables.
    public var configKey: String { rawValue.replacingOccurrences(of: "-", with: "_") }
}
