/// One spec modem that is plugged in, as the last look showed it.
public struct ObservedModem: Sendable, Equatable {
    public var plugged: PluggedModem
    /// Nil when the modem could not be read (see `failure`).
    public var state: ModemState?
    public var failure: LaneFailure?
    public init(plugged: PluggedModem, state: ModemState? = nil, failure: LaneFailure? = nil) {
        self.plugged = plugged
        self.state = state
        self.failure = failure
    }
}

/// Everything one look at the world showed.
public struct ObservedFarm: Sendable, Equatable {
    /// Spec modems that are plugged in, by name.
    public var modems: [String: ObservedModem]
    /// Plugged modems that no spec modem claims (left alone, reported in farm status).
    public var unclaimed: [PluggedModem]
    public var network: NetworkState
    /// Proxies by modem name: every spec modem, plus any modem we still run a proxy for.
    public var proxies: [String: ProxyObservation]
    /// Probes taken in this look, by modem name.
    public var probes: [String: ProbeResult]
    /// Operator requests not yet acted on in this pass.
    public var requests: Set<ModemRequest>

    public init(modems: [String: ObservedModem] = [:], unclaimed: [PluggedModem] = [], network: NetworkState = NetworkState(),
                proxies: [String: ProxyObservation] = [:], probes: [String: ProbeResult] = [:], requests: Set<ModemRequest> = []) {
        self.modems = modems
        self.unclaimed = unclaimed
        self.network = network
        self.proxies = proxies
        self.probes = probes
        self.requests = requests
    }
}
