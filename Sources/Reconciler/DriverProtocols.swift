import Foundation
import Spec

// The seams between the pure core and the world (DESIGN §1–§2). Every driver observes into plain
// values and changes the world only when asked; each call is idempotent. Errors thrown across
// these seams should conform to `OperatorFacingError` so that conditions can say what to fix.

/// An error that can tell an operator, in one line, what went wrong and what to do about it.
public protocol OperatorFacingError: Error, Sendable {
    /// Short CamelCase reason for a status condition, e.g. `SimPinRequired`, `Timeout`.
    var reason: String { get }
    /// One human line; never contains a secret.
    var message: String { get }
}

/// Which modems are plugged in, and where (libudev in production).
public protocol ModemInventory: Sendable {
    func pluggedModems() async throws -> [PluggedModem]
}

/// One USB modem with a QMI control node, as the USB bus shows it.
public struct PluggedModem: Sendable, Equatable, Codable {
    /// sysfs path of the `usb_device`, e.g. `/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2`.
    public var usbPath: String
    /// USB port path, e.g. `1-1.2`: stable for a given socket on a given hub.
    public var portPath: String
    public var vendorID: String
    public var productID: String
    public var manufacturer: String?
    public var product: String?
    /// USB serial number; nil when absent, empty or "0" (then the IMEI is the identity).
    public var usbSerial: String?
    /// QMI control device, e.g. `/dev/cdc-wdm0`.
    public var controlDevice: String
    /// Network interface, e.g. `wwan0`; nil while it has not appeared yet.
    public var interface: String?
    /// Whether the interface has `qmi/raw_ip` (nil when there is no interface yet).
    public var supportsRawIP: Bool?
    /// AT command ports of the same USB device, e.g. `/dev/ttyUSB2`.
    public var atPorts: [String]

    public init(usbPath: String, portPath: String, vendorID: String, productID: String, manufacturer: String? = nil,
                product: String? = nil, usbSerial: String? = nil, controlDevice: String, interface: String? = nil,
                supportsRawIP: Bool? = nil, atPorts: [String] = []) {
        self.usbPath = usbPath
        self.portPath = portPath
        self.vendorID = vendorID
        self.productID = productID
        self.manufacturer = manufacturer
        self.product = product
        self.usbSerial = usbSerial
        self.controlDevice = controlDevice
        self.interface = interface
        self.supportsRawIP = supportsRawIP
        self.atPorts = atPorts
    }
}

/// A QMI data session: bound to the client id that started it, so both are remembered.
public struct DataSession: Sendable, Equatable, Codable {
    public var clientID: UInt8
    public var packetDataHandle: UInt32
    public init(clientID: UInt8, packetDataHandle: UInt32) {
        self.clientID = clientID
        self.packetDataHandle = packetDataHandle
    }
}

public enum SIMState: String, Sendable, Equatable, Codable {
    case ready, pinRequired, pukRequired, absent, error
}

public enum OperatingMode: String, Sendable, Equatable, Codable {
    case online, lowPower
}

/// Addressing the network gave a connected modem (WDS Get Current Settings).
public struct IPSettings: Sendable, Equatable, Codable {
    public var address: String
    public var prefixLength: Int
    public var gateway: String?
    public var dns: [String]
    public var mtu: Int?
    public init(address: String, prefixLength: Int, gateway: String? = nil, dns: [String] = [], mtu: Int? = nil) {
        self.address = address
        self.prefixLength = prefixLength
        self.gateway = gateway
        self.dns = dns
        self.mtu = mtu
    }
}

public struct SignalInfo: Sendable, Equatable, Codable {
    public var rssi: Int?
    public var rsrp: Int?
    public var rsrq: Int?
    public var snr: Double?
    public init(rssi: Int? = nil, rsrp: Int? = nil, rsrq: Int? = nil, snr: Double? = nil) {
        self.rssi = rssi
        self.rsrp = rsrp
        self.rsrq = rsrq
        self.snr = snr
    }
}

public struct Registration: Sendable, Equatable, Codable {
    public var registered: Bool
    public var operatorName: String?
    public var radioTechnology: String?
    public init(registered: Bool, operatorName: String? = nil, radioTechnology: String? = nil) {
        self.registered = registered
        self.operatorName = operatorName
        self.radioTechnology = radioTechnology
    }
}

/// Everything one look at a modem over QMI tells; nil members could not be read.
public struct ModemState: Sendable, Equatable, Codable {
    public var imei: String
    public var sim: SIMState
    /// PIN tries left when the SIM asks for a PIN.
    public var pinRetriesLeft: Int?
    public var operatingMode: OperatingMode
    /// Whether the device and the kernel both use raw-IP.
    public var rawIPAgreed: Bool
    public var registration: Registration
    public var signal: SignalInfo
    /// The live session, if the remembered one (or any) is connected.
    public var session: DataSession?
    /// Current settings of the live session.
    public var settings: IPSettings?

    public init(imei: String, sim: SIMState, pinRetriesLeft: Int? = nil, operatingMode: OperatingMode, rawIPAgreed: Bool,
                registration: Registration, signal: SignalInfo = SignalInfo(), session: DataSession? = nil, settings: IPSettings? = nil) {
        self.imei = imei
        self.sim = sim
        self.pinRetriesLeft = pinRetriesLeft
        self.operatingMode = operatingMode
        self.rawIPAgreed = rawIPAgreed
        self.registration = registration
        self.signal = signal
        self.session = session
        self.settings = settings
    }
}

/// Drives one modem over its QMI control device (libqmi-glib in production).
public protocol ModemControl: Sendable {
    /// Reads IMEI, SIM, registration, signal, mode, data format and whether `remembered` is still live.
    /// Every call must at least ask the modem whether the remembered session is up (a modem that
    /// does not answer fails the look); a driver may take the rest from a full look at most a
    /// minute old while that session stays up and nothing was done to the modem since.
    func observe(_ modem: PluggedModem, remembered: DataSession?) async throws -> ModemState
    /// Verifies the PIN once. Never retried by the driver: three wrong tries lock the SIM.
    func unlockSIM(_ modem: PluggedModem, pin: String) async throws
    /// Makes device and kernel agree on raw-IP (the link is briefly taken down).
    func setRawIP(_ modem: PluggedModem) async throws
    /// Starts a data session, reusing `clientID` when given; the client id is kept, not released.
    func connect(_ modem: PluggedModem, apn: String, ipType: IPType, reusing clientID: UInt8?) async throws -> (DataSession, IPSettings)
    /// Stops the session and releases its client id.
    func disconnect(_ modem: PluggedModem, session: DataSession) async throws
    func setOperatingMode(_ modem: PluggedModem, _ mode: OperatingMode) async throws
    /// One rung of the recovery of a modem that does not answer (`RecoveryRung`).
    func recover(_ modem: PluggedModem, _ rung: RecoveryRung) async throws
    /// Frees what this process holds in the modems (control clients), keeping data sessions:
    /// called when the process ends, normally or by SIGTERM/SIGINT.
    func shutdown() async
}

/// A policy rule of the kind ProxyFarm writes (DESIGN §7).
public struct RoutingRule: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Selector: Sendable, Hashable, Codable {
        case uidRange(UInt32, UInt32)
        case from(String)
        case oif(String)
        /// `uidrange U-U ipproto tcp sport P`: TCP sent by uid U from its port P, i.e. the replies of
        /// the proxy listening on P to its clients (docs/routing.md).
        case uidTCPSourcePort(uid: UInt32, port: Int)
    }
    public var priority: Int
    public var selector: Selector
    public var table: Int
    public init(priority: Int, selector: Selector, table: Int) {
        self.priority = priority
        self.selector = selector
        self.table = table
    }
    public var description: String {
        let what: String = switch selector {
        case .uidRange(let a, let b): "uidrange \(a)-\(b)"
        case .from(let address): "from \(address)"
        case .oif(let name): "oif \(name)"
        case .uidTCPSourcePort(let uid, let port): "uidrange \(uid)-\(uid) ipproto tcp sport \(port)"
        }
        return "rule \(priority) \(what) lookup \(table)"
    }
}

/// A route in one of ProxyFarm's tables.
public struct TableRoute: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable, Codable {
        /// `default dev IF [via GW]`
        case defaultVia(interface: String, gateway: String?)
        /// `unreachable default metric 4294967295`: the fail-closed floor.
        case unreachableDefault
    }
    public var table: Int
    public var kind: Kind
    public init(table: Int, kind: Kind) {
        self.table = table
        self.kind = kind
    }
    public var description: String {
        switch kind {
        case .defaultVia(let interface, let gateway):
            "table \(table) default dev \(interface)" + (gateway.map { " via \($0)" } ?? "")
        case .unreachableDefault:
            "table \(table) unreachable default metric 4294967295"
        }
    }
}

/// What the kernel shows of interfaces, ProxyFarm's tables and all rules.
public struct NetworkState: Sendable, Equatable, Codable {
    /// Interface → its addresses in CIDR form (`100.64.1.7/32`); absent interfaces are missing.
    public var addresses: [String: [String]]
    /// Interfaces that are administratively up.
    public var upInterfaces: Set<String>
    /// Routes in tables within ProxyFarm's range.
    public var routes: [TableRoute]
    /// Every rule, as a list: the kernel keeps duplicates, so duplicates show here.
    public var rules: [RoutingRule]
    /// ProxyFarm's nftables table (EgressGuard.swift).
    public var egressGuard: GuardState
    /// Interface → its byte counters, for traffic accounting (Traffic.swift).
    public var counters: [String: InterfaceCounters]
    public init(addresses: [String: [String]] = [:], upInterfaces: Set<String> = [], routes: [TableRoute] = [], rules: [RoutingRule] = [],
                egressGuard: GuardState = GuardState(), counters: [String: InterfaceCounters] = [:]) {
        self.addresses = addresses
        self.upInterfaces = upInterfaces
        self.routes = routes
        self.rules = rules
        self.egressGuard = egressGuard
        self.counters = counters
    }
}

/// One change to the kernel's network state.
public enum NetworkChange: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Replace all addresses of the interface with this one (CIDR form).
    case setAddress(interface: String, cidr: String)
    case linkUp(interface: String)
    case addRoute(TableRoute)
    case removeRoute(TableRoute)
    case addRule(RoutingRule)
    /// Removes one instance of the rule (a duplicate needs one removal per extra copy).
    case removeRule(RoutingRule)
    /// Writes one lane of the egress guard (added or replaced).
    case setGuardLane(GuardLane)
    case removeGuardLane(uid: UInt32)
    /// Refuse every uid of the range that has no lane.
    case setGuardFence(ClosedRange<UInt32>)

    public var description: String {
        switch self {
        case .setAddress(let interface, let cidr): "address \(cidr) on \(interface)"
        case .linkUp(let interface): "link \(interface) up"
        case .addRoute(let route), .removeRoute(let route): route.description
        case .addRule(let rule), .removeRule(let rule): rule.description
        case .setGuardLane(let lane): lane.description
        case .removeGuardLane(let uid): "guard uid \(uid)"
        case .setGuardFence(let fence): "guard: refuse uids \(fence.lowerBound)-\(fence.upperBound) that have no lane"
        }
    }

    /// Whether it changes the egress guard (applied by nftables) rather than routing.
    public var isGuard: Bool {
        switch self {
        case .setGuardLane, .removeGuardLane, .setGuardFence: true
        default: false
        }
    }
}

/// Addresses, tables, policy rules and the egress guard (iproute2 and nftables in production).
public protocol NetworkControl: Sendable {
    /// `tables` is ProxyFarm's table range: routes outside it are not reported. A guard that
    /// cannot be read is reported in `egressGuard.unreadable`, never thrown: routing is still read.
    func observe(tables: ClosedRange<Int>) async throws -> NetworkState
    /// Applies all changes in one batch, guard changes first (one transaction); the caller
    /// re-observes to verify.
    func apply(_ changes: [NetworkChange]) async throws
}

/// What is known of one modem's proxy process.
public struct ProxyProcess: Sendable, Equatable, Codable {
    public var pid: Int32
    /// The config file the process was started with.
    public var configPath: String
    /// Whether every expected port accepts connections.
    public var listening: Bool
    /// Why the last reload did not take (a config error on 3proxy's stderr, or no re-bind in
    /// time); nil when it took or none is pending. Such a proxy runs on a config that is not
    /// the file on disk, so it is restarted.
    public var reloadFailure: String?
    public init(pid: Int32, configPath: String, listening: Bool, reloadFailure: String? = nil) {
        self.pid = pid
        self.configPath = configPath
        self.listening = listening
        self.reloadFailure = reloadFailure
    }
}

/// Observed proxy side of one modem (keyed by modem name).
public struct ProxyObservation: Sendable, Equatable {
    /// Our recorded process if it is alive and really is this modem's 3proxy.
    public var process: ProxyProcess?
    /// Current config bytes on disk (may hold secrets: never print).
    public var config: String?
    /// Other processes listening on this modem's ports (strays to stop).
    public var strays: [Int32]
    /// The proxy's counter file (ProxyConfigInput.counterFile), when it has a readable one.
    public var counters: ProxyCounters?
    public init(process: ProxyProcess? = nil, config: String? = nil, strays: [Int32] = [], counters: ProxyCounters? = nil) {
        self.process = process
        self.config = config
        self.strays = strays
        self.counters = counters
    }
}

/// Runs one 3proxy per modem (real processes in production).
public protocol ProxySupervisor: Sendable {
    /// `ports` is each modem's expected listening ports, keyed by modem name.
    func observe(ports: [String: [Int]]) async throws -> [String: ProxyObservation]
    /// Writes the config atomically (temp file, fsync, rename), mode 0600, owned by `uid`.
    func writeConfig(modem: String, config: String, uid: UInt32) async throws
    /// Starts the proxy in its own session and returns once `ports` listen.
    func start(modem: String, ports: [Int]) async throws -> ProxyProcess
    /// SIGUSR1, then a short wait for the verdict: throws when the proxy reported a config error,
    /// died or is no longer ours; a reload still under way then is judged by the next `observe`
    /// (`ProxyProcess.reloadFailure`), so a slow proxy holds up neither the pass nor other modems.
    func reload(modem: String, pid: Int32, ports: [Int]) async throws
    /// SIGTERM, SIGKILL after a grace period; removes the pid record. `keepingCounts` first has
    /// the proxy write its users' traffic counts (a reload: a few seconds at most); a proxy whose
    /// lane is not protected is stopped at once instead — safety before accounting.
    func stop(modem: String, pid: Int32, keepingCounts: Bool) async throws
}

public struct ProbeResult: Sendable, Equatable, Codable {
    public var ok: Bool
    /// Why it failed, e.g. `timeout after 5s`, `HTTP 503`.
    public var failure: String?
    public var latency: Duration
    /// The public address the probe URL reported, when it reports one.
    public var publicIP: String?
    public init(ok: Bool, failure: String? = nil, latency: Duration, publicIP: String? = nil) {
        self.ok = ok
        self.failure = failure
        self.latency = latency
        self.publicIP = publicIP
    }
}

/// Proves a modem's egress path: an HTTP GET sent as the modem's proxy uid.
public protocol HealthProbe: Sendable {
    func probe(url: String, uid: UInt32, interface: String, timeout: Duration) async -> ProbeResult
}

/// The reconciler's only source of time, so that planning stays pure and tests control it.
public protocol WallClock: Sendable {
    func now() -> Date
}

public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// Everything the reconciler needs from the world, wired once by the CLI.
public struct DriverSet: Sendable {
    public var inventory: any ModemInventory
    public var modems: any ModemControl
    public var network: any NetworkControl
    public var proxies: any ProxySupervisor
    public var health: any HealthProbe
    public var clock: any WallClock
    public init(inventory: any ModemInventory, modems: any ModemControl, network: any NetworkControl,
                proxies: any ProxySupervisor, health: any HealthProbe, clock: any WallClock = SystemClock()) {
        self.inventory = inventory
        self.modems = modems
        self.network = network
        self.proxies = proxies
        self.health = health
        self.clock = clock
    }
}
