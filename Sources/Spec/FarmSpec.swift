/// A validated farm.yaml (DESIGN §3), with every modem's settings already resolved from
/// `defaults` + its own overrides. Pure values: nothing here touches the world.
public struct FarmSpec: Sendable, Equatable {
    /// Schema version of the file; only 1 exists.
    public var version: Int
    /// Where modems that name no ports get theirs from (sticky, see the allocation store).
    public var portRange: ClosedRange<Int>
    public var routing: RoutingSettings
    /// Proxy users by name, sorted by name.
    public var users: [User]
    /// Modems in file order, defaults already applied.
    public var modems: [ModemSpec]
    /// The control API of `reconcile serve`; nil when farm.yaml has no `api:`.
    public var api: APISettings?
    /// The farm's hosts, sorted by name; empty for a one-host farm (DESIGN §9).
    public var hosts: [HostSpec]
    /// The customers' HAProxy gateway; nil when farm.yaml has no `gateway:`.
    public var gateway: GatewaySettings?

    public init(version: Int = 1, portRange: ClosedRange<Int>, routing: RoutingSettings, users: [User], modems: [ModemSpec],
                api: APISettings? = nil, hosts: [HostSpec] = [], gateway: GatewaySettings? = nil) {
        self.hosts = hosts
        self.gateway = gateway
        self.version = version
        self.portRange = portRange
        self.routing = routing
        self.users = users
        self.modems = modems
        self.api = api
    }

    public func user(named name: String) -> User? { users.first { $0.name == name } }
}

public struct RoutingSettings: Sendable, Equatable {
    /// Modem k (k ≥ `firstModemIndex`) gets routing table and rule priority `tableBase + k`.
    public var tableBase: Int
    /// Modem k's proxy runs as uid (and gid) `uidBase + k`.
    public var uidBase: Int
    /// Index 0 is no modem's: priority `tableBase` holds the rules that send every proxy's replies
    /// to its clients by the main table, and must come before every modem's rules (docs/routing.md).
    public static let firstModemIndex = 1

    public init(tableBase: Int = 100, uidBase: Int = 20000) {
        self.tableBase = tableBase
        self.uidBase = uidBase
    }
}

public struct User: Sendable, Equatable {
    public var name: String
    public var password: SecretSource
    /// Per modem: each modem's 3proxy counts and enforces it on its own; nil = unlimited.
    public var quota: Quota?
    public init(name: String, password: SecretSource, quota: Quota? = nil) {
        self.name = name
        self.password = password
        self.quota = quota
    }
}

/// Where a secret (a proxy password, a SIM PIN) comes from. Its `description` shows neither the
/// secret nor the variable or file that holds it (a password put under `env:` by mistake would
/// show otherwise), so it is safe in plans, logs and diagnostics.
public enum SecretSource: Sendable, Equatable, CustomStringConvertible {
    /// A file holding the secret (trailing newline stripped); relative paths are relative to farm.yaml.
    case file(String)
    /// A 3proxy crypt hash (`$1$…` MD5-crypt or `$3$…`); only valid for passwords.
    case hash(String)
    /// An environment variable of the reconciler's process.
    case env(String)
    /// The secret written in farm.yaml itself (allowed, `validate` warns).
    case value(String)

    public var description: String {
        switch self {
        case .file: "file"
        case .hash: "hash"
        case .env: "env"
        case .value: "value"
        }
    }
}

public enum IPType: String, Sendable, Equatable, CaseIterable {
    case ipv4, ipv6, ipv4v6
}

public struct ModemSpec: Sendable, Equatable {
    /// IMEI or USB serial number: the modem's identity.
    public var serial: String
    /// Short unique label, safe as a file name and a metrics label.
    public var name: String
    public var apn: String
    public var ipType: IPType
    public var pin: SecretSource?
    /// Explicit ports; a nil member is allocated from `FarmSpec.portRange`.
    public var ports: PortRequest
    public var proxy: ProxySettings
    public var health: HealthSettings
    public var rotation: Rotation
    public var enabled: Bool
    /// The customer's change-IP link; nil when the modem has none.
    public var link: LinkSettings?
    /// The host (a name under `hosts:`) that carries the modem; nil in a one-host farm.
    public var host: String?
    /// Explicit entry ports at the gateway; a nil member is allocated from `GatewaySettings.ports`.
    public var entry: PortRequest

    public init(serial: String, name: String, apn: String, ipType: IPType = .ipv4, pin: SecretSource? = nil,
                ports: PortRequest = PortRequest(), proxy: ProxySettings, health: HealthSettings = HealthSettings(),
                rotation: Rotation = .never, enabled: Bool = true, link: LinkSettings? = nil,
                host: String? = nil, entry: PortRequest = PortRequest()) {
        self.host = host
        self.entry = entry
        self.link = link
        self.serial = serial
        self.name = name
        self.apn = apn
        self.ipType = ipType
        self.pin = pin
        self.ports = ports
        self.proxy = proxy
        self.health = health
        self.rotation = rotation
        self.enabled = enabled
    }
}

public struct PortRequest: Sendable, Equatable {
    public var http: Int?
    public var socks: Int?
    public init(http: Int? = nil, socks: Int? = nil) {
        self.http = http
        self.socks = socks
    }
}

public struct ProxySettings: Sendable, Equatable {
    /// A validated IP literal the ports listen on.
    public var listen: String
    public var http: Bool
    public var socks: Bool
    /// Names of users (all defined in `FarmSpec.users`).
    public var users: [String]
    /// Client networks allowed; empty = any client that authenticates.
    public var allow: [CIDR]
    public var maxConnections: Int
    public var bandwidth: Bandwidth
    /// Resolvers for the proxy's own lookups (validated IP literals); empty = system resolver.
    public var dns: [String]

    public init(listen: String = "0.0.0.0", http: Bool = true, socks: Bool = true, users: [String] = [],
                allow: [CIDR] = [], maxConnections: Int = 200, bandwidth: Bandwidth = Bandwidth(), dns: [String] = []) {
        self.listen = listen
        self.http = http
        self.socks = socks
        self.users = users
        self.allow = allow
        self.maxConnections = maxConnections
        self.bandwidth = bandwidth
        self.dns = dns
    }
}

/// Per-user bandwidth limits in bits per second; nil = unlimited.
public struct Bandwidth: Sendable, Equatable {
    public var inBitsPerSecond: Int?
    public var outBitsPerSecond: Int?
    public init(inBitsPerSecond: Int? = nil, outBitsPerSecond: Int? = nil) {
        self.inBitsPerSecond = inBitsPerSecond
        self.outBitsPerSecond = outBitsPerSecond
    }
}

public struct HealthSettings: Sendable, Equatable {
    public var url: String
    public var interval: Duration
    public var timeout: Duration
    public var failuresBeforeReset: Int
    /// The last rung of the recovery of a modem whose QMI does not answer: power-cycle its USB hub
    /// port with `uhubctl` (needs a hub that switches port power).
    public var powerCycle: Bool
    public init(url: String = "http://connectivitycheck.gstatic.com/generate_204", interval: Duration = .seconds(30),
                timeout: Duration = .seconds(5), failuresBeforeReset: Int = 3, powerCycle: Bool = false) {
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self.failuresBeforeReset = failuresBeforeReset
        self.powerCycle = powerCycle
    }
}

public enum Rotation: Sendable, Equatable {
    case never
    case every(Duration)
    /// Times of day, in the reconciler host's local time zone.
    case at([TimeOfDay])
}

public struct TimeOfDay: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var hour: Int
    public var minute: Int
    public init(hour: Int, minute: Int) {
        self.hour = hour
        self.minute = minute
    }
    public var minutesSinceMidnight: Int { hour * 60 + minute }
    public static func < (a: TimeOfDay, b: TimeOfDay) -> Bool { a.minutesSinceMidnight < b.minutesSinceMidnight }
    public var description: String {
        (hour < 10 ? "0" : "") + String(hour) + ":" + (minute < 10 ? "0" : "") + String(minute)
    }
}

/// An IPv4 or IPv6 network, validated and normalised ("10.0.0.0/8").
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    public var address: String
    public var prefixLength: Int
    public init(address: String, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }
    public var description: String { "\(address)/\(prefixLength)" }
}

/// `api:` — where `reconcile serve` listens and the operator's token (DESIGN §10).
public struct APISettings: Sendable, Equatable {
    public var listen: ListenAddress
    public var token: SecretSource
    public init(listen: ListenAddress, token: SecretSource) {
        self.listen = listen
        self.token = token
    }
}

/// `modems[].link:` — the customer's change-IP link of one modem.
public struct LinkSettings: Sendable, Equatable {
    public static let defaultMinInterval = Duration.seconds(60)
    /// The secret path segment of `/v1/link/TOKEN`.
    public var token: SecretSource
    /// The link rotates the modem at most this often.
    public var minInterval: Duration
    public init(token: SecretSource, minInterval: Duration = defaultMinInterval) {
        self.token = token
        self.minInterval = minInterval
    }
}

/// An IP literal and a port: `127.0.0.1:8080`, `[::1]:8080`.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    /// `port` 0 asks the kernel for a free one (tests).
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
            guard host.contains(":" as Character) else { return nil }
        } else if host.contains(":" as Character) {
            return nil
        }
        guard IPAddress(host) != nil else { return nil }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":" as Character) ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
