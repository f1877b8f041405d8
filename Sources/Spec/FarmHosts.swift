/// A farm that spans hosts (DESIGN §9): where each host is, the customers' gateway, and which
/// modems a host reconciles. A farm without `hosts:` is a one-host farm and none of this applies.

/// `hosts.NAME:` — one machine carrying modems.
public struct HostSpec: Sendable, Equatable {
    public var name: String
    /// The IP literal the gateway reaches the host at (LAN, WireGuard, Tailscale).
    public var address: String
    public init(name: String, address: String) {
        self.name = name
        self.address = address
    }
}

/// `gateway:` — HAProxy, the customers' one entry address for every host's modems.
public struct GatewaySettings: Sendable, Equatable {
    public static let defaultPorts = 30000...39999
    public static let defaultCheckInterval = Duration.seconds(2)
    /// The IP literal the entry ports listen on.
    public var listen: String
    /// Entry ports of modems that name none come from here, sticky in the gateway's state.
    public var ports: ClosedRange<Int>
    /// Customer networks allowed at the gateway; every other source is refused.
    public var allow: [CIDR]
    /// How often HAProxy asks each modem's host `/healthz/<modem>`; two answers change its state.
    public var checkInterval: Duration
    /// Where HAProxy's Prometheus exporter listens (`/metrics`); nil = no exporter.
    public var metrics: ListenAddress?

    public init(listen: String = "0.0.0.0", ports: ClosedRange<Int> = defaultPorts, allow: [CIDR],
                checkInterval: Duration = defaultCheckInterval, metrics: ListenAddress? = nil) {
        self.listen = listen
        self.ports = ports
        self.allow = allow
        self.checkInterval = checkInterval
        self.metrics = metrics
    }
}

extension FarmSpec {
    /// The host called `name`, if `hosts:` lists it.
    public func host(named name: String) -> HostSpec? { hosts.first { $0.name == name } }

    /// The part of the farm that the host `name` reconciles: its own modems only. The rest of the
    /// file was validated but is not this host's business; a modem moved away is then torn down
    /// here like a removed one. A one-host farm (no `hosts:`) is returned whole, whatever `name` is.
    public func forHost(_ name: String) -> FarmSpec {
        guard !hosts.isEmpty else { return self }
        var own = self
        own.modems = modems.filter { $0.host == name }
        return own
    }
}
