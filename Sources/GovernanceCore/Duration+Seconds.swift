extension Duration {
    /// The duration in seconds, with the fraction: what `Date.addingTimeInterval` takes.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
