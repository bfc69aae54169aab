import Hummingbird
import Identity

/// The request context of every ACGS-2 service.
public struct ACGSRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated caller, set by the authentication middleware.
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    /// Endpoints read their bodies with their own limits (see `decodeJSON`); this is the ceiling.
    public var maxUploadSize: Int { 16 * 1024 * 1024 }
}
