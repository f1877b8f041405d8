import Foundation
import Reconciler
import Spec

/// A clock tests move by hand.
public final class SimulatedClock: WallClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    public init(_ start: Date) { current = start }
    public func now() -> Date { lock.withLock { current } }
    public func advance(by duration: Duration) {
        let components = duration.components
        lock.withLock { current += Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    }
}

extension SimulatedFarm {
    /// The farm behind every driver protocol.
    public nonisolated func drivers(clock: any WallClock = SystemClock()) -> DriverSet {
        DriverSet(inventory: Drivers(farm: self), modems: Drivers(farm: self), network: Drivers(farm: self),
                  proxies: Drivers(farm: self), health: Drivers(farm: self), clock: clock)
    }
}

/// Forwards each protocol to the farm actor.
struct Drivers: ModemInventory, ModemControl, NetworkControl, ProxySupervisor, HealthProbe {
    let farm: SimulatedFarm

    func pluggedModems() async throws -> [PluggedModem] { try await farm.pluggedModems() }

    func observe(_ modem: PluggedModem, remembered: DataSession?) async throws -> ModemState {
        try await farm.observe(modem, remembered: remembered)
    }
    func unlockSIM(_ modem: PluggedModem, pin: String) async throws { try await farm.unlockSIM(modem, pin: pin) }
    func setRawIP(_ modem: PluggedModem) async throws { try await farm.setRawIP(modem) }
    func connect(_ modem: PluggedModem, apn: String, ipType: IPType, reusing clientID: UInt8?) async throws -> (DataSession, IPSettings) {
        try await farm.connect(modem, apn: apn, reusing: clientID)
    }
    func disconnect(_ modem: PluggedModem, session: DataSession) async throws { try await farm.disconnect(modem, session: session) }
    func setOperatingMode(_ modem: PluggedModem, _ mode: OperatingMode) async throws { try await farm.setOperatingMode(modem, mode) }
    func recover(_ modem: PluggedModem, _ rung: RecoveryRung) async throws { try await farm.recover(modem, rung) }
    /// A simulated modem has no client ids to free.
    func shutdown() async {}

    func observe(tables: ClosedRange<Int>) async throws -> NetworkState { try await farm.observeNetwork(tables: tables) }
    func apply(_ changes: [NetworkChange]) async throws { try await farm.applyNetwork(changes) }

    func observe(ports: [String: [Int]]) async throws -> [String: ProxyObservation] { try await farm.observeProxies(ports: ports) }
    func writeConfig(modem: String, config: String, uid: UInt32) async throws { try await farm.writeConfig(modem: modem, config: config) }
    func start(modem: String, ports: [Int]) async throws -> ProxyProcess { try await farm.startProxy(modem: modem, ports: ports) }
    func reload(modem: String, pid: Int32, ports: [Int]) async throws { try await farm.reloadProxy(modem: modem, pid: pid) }
    func stop(modem: String, pid: Int32, keepingCounts: Bool) async throws { try await farm.stopProxy(modem: modem, pid: pid) }

    func probe(url: String, uid: UInt32, interface: String, timeout: Duration) async -> ProbeResult { await farm.probe(interface: interface) }
}
