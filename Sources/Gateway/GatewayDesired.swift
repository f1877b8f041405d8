import Spec

/// What the gateway should be (DESIGN §9): for every enabled modem, its entry ports → its host's
/// address and proxy ports, checked at the host's `/healthz/<modem>`. Pure values.
public struct GatewayDesired: Sendable, Equatable {
    public var settings: GatewaySettings
    /// Sorted by entry port.
    public var routes: [EntryRoute]

    public init(settings: GatewaySettings, routes: [EntryRoute]) {
        self.settings = settings
        self.routes = routes
    }

    /// Nil for a farm without `gateway:` or `api:` (validate requires both together).
    public static func of(_ spec: FarmSpec, entries: EntryAllocations) -> GatewayDesired? {
        guard let settings = spec.gateway, let healthPort = spec.api?.listen.port else { return nil }
        var routes: [EntryRoute] = []
        for modem in spec.modems where modem.enabled {
            guard let host = modem.host.flatMap(spec.host(named:)), let entry = entries.modems[modem.serial] else { continue }
            let services: [(EntryRoute.Service, Bool, Int?, Int)] = [
                (.http, modem.proxy.http, modem.ports.http, entry.http),
                (.socks, modem.proxy.socks, modem.ports.socks, entry.socks),
            ]
            for (service, served, proxyPort, entryPort) in services where served {
                guard let proxyPort else { continue }
                routes.append(EntryRoute(modem: modem.name, service: service, entryPort: entryPort, host: host.name,
                                         hostAddress: host.address, proxyPort: proxyPort, healthPort: healthPort))
            }
        }
        return GatewayDesired(settings: settings, routes: routes.sorted { $0.entryPort < $1.entryPort })
    }
}

/// One entry port at the gateway.
public struct EntryRoute: Sendable, Equatable {
    public enum Service: String, Sendable {
        case http, socks
    }

    public var modem: String
    public var service: Service
    public var entryPort: Int
    /// The host's name under `hosts:`.
    public var host: String
    public var hostAddress: String
    /// The modem's proxy port on its host.
    public var proxyPort: Int
    /// The port of the host's `reconcile serve`, which answers `/healthz/<modem>`.
    public var healthPort: Int

    public init(modem: String, service: Service, entryPort: Int, host: String, hostAddress: String, proxyPort: Int, healthPort: Int) {
        self.modem = modem
        self.service = service
        self.entryPort = entryPort
        self.host = host
        self.hostAddress = hostAddress
        self.proxyPort = proxyPort
        self.healthPort = healthPort
    }
}
