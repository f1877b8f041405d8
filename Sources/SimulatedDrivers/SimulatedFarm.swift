import Foundation
import Reconciler
import Spec

/// A small farm in memory — plugged modems with SIMs, the kernel's addresses/routes/rules as
/// values, proxies as fake pids — behind every driver protocol, with faults on demand. Used by the
/// reconciler's tests, the benchmark and `reconcile --simulated`; it pretends no hardware exists.
public actor SimulatedFarm {
    /// Which driver call a fault applies to.
    public enum Operation: String, Sendable, Hashable {
        case inventory, observeModem, unlockSIM, setRawIP, connect, disconnect, setOperatingMode
        case observeNetwork, applyNetwork, observeProxies, writeConfig, startProxy, reloadProxy, stopProxy, probe, recover
    }

    public enum Fault: Sendable, Equatable {
        /// The call throws an operator-facing error with this reason.
        case fail(String)
        /// The call never returns (ignoring cancellation) until `releaseHangs()`.
        case hang
        /// The call returns success but changes nothing (a driver that lies: verification must catch it).
        case ignore
    }

    struct Modem: Codable {
        var plugged: PluggedModem
        var imei: String
        var lane: Int
        var pin: String?
        var sim: SIMState
        var pinTries = 3
        var mode: OperatingMode = .online
        var rawIP = false
        var registered: Bool
        var stickyAddress = false
        var generation = 0
        var session: DataSession?
        /// QMI stopped answering (the commonest EC25 failure) until the modem is re-enumerated.
        var hung: Bool?
        var clientIDs: Set<UInt8> = []
        var nextHandle: UInt32 = 1

        var identity: String { plugged.usbSerial ?? imei }
        var settings: IPSettings {
            IPSettings(address: "100.64.\(lane).\(10 + generation % 240)", prefixLength: 24, gateway: "100.64.\(lane).1", dns: ["198.51.100.53"])
        }
    }

    struct Proxy: Codable {
        var pid: Int32
        var ports: [Int]
        var listening = true
        var reloads = 0
    }

    var modems: [Modem] = []
    /// Where each USB path is in `modems` (`reindex()` after plugging, unplugging, restoring): a
    /// large simulated farm is looked up in constant time.
    var indexByPath: [String: Int] = [:]
    var networkState = NetworkState()
    var proxies: [String: Proxy] = [:]
    var configs: [String: String] = [:]
    /// What each proxy's counter file holds (not kept in snapshots: `--simulated` counts nothing).
    var proxyCounters: [String: ProxyCounters] = [:]
    var strays: [Int32: [Int]] = [:]
    var lastInterfaceIndex = 1
    var nextPid: Int32 = 4000
    var faults: [String: (fault: Fault, remaining: Int?)] = [:]
    var released = false
    /// Control calls in flight per modem (only modems with one).
    var active: [String: Int] = [:]
    var unhealthy: Set<String> = []
    /// Recovery rungs applied, as `serial rung`, in order.
    public internal(set) var recoveries: [String] = []
    /// The calls as `operation key`, in order: lets tests check ordering. The oldest go once there
    /// are `callsKept` (a long simulated run or a benchmark must not grow without end).
    public private(set) var calls: [String] = []
    static let callsKept = 20_000
    /// The most modems that had a control call in flight at the same time.
    public private(set) var maxConcurrentModems = 0
    let latency: Duration

    /// `latency`: how long each modem-control call takes (makes overlap observable).
    public init(latency: Duration = .zero) { self.latency = latency }

    // MARK: setting up the farm

    /// Plugs in a modem; lanes number from 1 and give the address pool 100.64.lane.0/24.
    /// `usbSerial: false` makes it a modem known only by its IMEI.
    @discardableResult
    public func plug(serial: String, usbSerial: Bool = true, pin: String? = nil, registered: Bool = true) -> PluggedModem {
        let lane = (modems.map(\.lane).max() ?? 0) + 1
        let interface = "wwan\(lane - 1)"
        let plugged = PluggedModem(usbPath: "/sys/devices/sim/usb1/1-\(lane)", portPath: "1-\(lane)", vendorID: "2c7c", productID: "0125",
                                   manufacturer: "Simulated", product: "LTE modem", usbSerial: usbSerial ? serial : nil,
                                   controlDevice: "/dev/cdc-wdm\(lane - 1)", interface: interface, supportsRawIP: true)
        modems.append(Modem(plugged: plugged, imei: serial, lane: lane, pin: pin, sim: pin == nil ? .ready : .pinRequired,
                            registered: registered && pin == nil))
        reindex()
        networkState.addresses[interface] = []
        // A new interface, as the kernel makes it: a fresh ifindex and counters at zero.
        lastInterfaceIndex = max(lastInterfaceIndex, networkState.counters.values.map(\.index).max() ?? 1) + 1
        networkState.counters[interface] = InterfaceCounters(index: lastInterfaceIndex, bytes: .zero)
        return plugged
    }

    func reindex() {
        indexByPath = Dictionary(modems.enumerated().map { ($1.plugged.usbPath, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The modem's interface carries bytes, as a customer's traffic through its proxy would.
    public func carry(serial: String, receive: UInt64, transmit: UInt64) {
        guard let interface = modems.first(where: { $0.imei == serial })?.plugged.interface else { return }
        networkState.counters[interface]?.bytes.receive += receive
        networkState.counters[interface]?.bytes.transmit += transmit
    }

    /// The proxy's counter file now holds `records` (by rule number), as 3proxy writes it.
    public func writeProxyCounters(modem: String, records: [Int: CounterRecord], at time: Date) {
        proxyCounters[modem] = ProxyCounters(written: time, records: records)
    }

    /// The modem's interface counters start again from zero (as some drivers do after a reset).
    public func resetCounters(serial: String) {
        guard let interface = modems.first(where: { $0.imei == serial })?.plugged.interface else { return }
        networkState.counters[interface]?.bytes = .zero
    }

    /// Unplugs a modem: its interface and the routes through it vanish, as the kernel does.
    public func unplug(serial: String) {
        guard let index = modems.firstIndex(where: { $0.imei == serial }) else { return }
        let interface = modems[index].plugged.interface ?? ""
        modems.remove(at: index)
        reindex()
        networkState.addresses[interface] = nil
        networkState.upInterfaces.remove(interface)
        networkState.counters[interface] = nil
        networkState.routes.removeAll { if case .defaultVia(interface, _) = $0.kind { true } else { false } }
    }

    /// The next rotations of this modem keep the same address (some networks do).
    public func setStickyAddress(serial: String) { update(serial) { $0.stickyAddress = true } }

    /// The modem's QMI stops answering until its USB device is re-enumerated or power-cycled.
    public func hang(serial: String) { update(serial) { $0.hung = true } }

    /// The network drops the session (as after a carrier-side reset), with a new address next time.
    public func dropSession(serial: String) { update(serial) { $0.session = nil; $0.generation += 1 } }

    /// Health probes through this modem fail from now on (or succeed again).
    public func setHealthy(serial: String, _ healthy: Bool) {
        guard let interface = modems.first(where: { $0.imei == serial })?.plugged.interface else { return }
        if healthy { unhealthy.remove(interface) } else { unhealthy.insert(interface) }
    }

    /// Faults `operation` for `key` (a modem's serial, a proxy's modem name, a probe's interface;
    /// "" for farm-wide calls), `times` times or until cleared.
    public func inject(_ fault: Fault, on operation: Operation, key: String = "", times: Int? = nil) {
        faults["\(operation.rawValue) \(key)"] = (fault, times)
    }

    public func clearFaults() { faults = [:] }

    /// Lets every hung call return (with an error) so tests end cleanly.
    public func releaseHangs() { released = true }

    func update(_ serial: String, _ change: (inout Modem) -> Void) {
        guard let index = modems.firstIndex(where: { $0.imei == serial }) else { return }
        change(&modems[index])
    }

    // MARK: the gate every call passes

    /// Records the call, applies latency and any fault. Returns false when the call must change nothing.
    func gate(_ operation: Operation, _ key: String, tracked: Bool = false) async throws -> Bool {
        if calls.count >= Self.callsKept { calls.removeFirst(Self.callsKept / 2) }
        calls.append("\(operation.rawValue) \(key)")
        if tracked {
            active[key, default: 0] += 1
            maxConcurrentModems = max(maxConcurrentModems, active.count)
        }
        defer {
            if tracked, let count = active[key] { active[key] = count > 1 ? count - 1 : nil }
        }
        if tracked, latency > .zero { try await Task.sleep(for: latency) }
        guard let entry = faults["\(operation.rawValue) \(key)"] else { return true }
        if let remaining = entry.remaining {
            faults["\(operation.rawValue) \(key)"] = remaining > 1 ? (entry.fault, remaining - 1) : nil
        }
        switch entry.fault {
        case .fail(let reason):
            throw SimulatedError(reason: reason, message: "simulated \(operation.rawValue) failure for \(key.isEmpty ? "the farm" : key)")
        case .hang:
            // Sleeps in a detached task: a cancelled caller must keep hanging, not spin.
            while !released { await Task.detached { try? await Task.sleep(for: .milliseconds(20)) }.value }
            throw SimulatedError(reason: "Released", message: "hung \(operation.rawValue) released")
        case .ignore:
            return false
        }
    }
}

/// What a simulated driver call throws.
public struct SimulatedError: OperatorFacingError, CustomStringConvertible {
    public var reason: String
    public var message: String
    public var description: String { "\(reason): \(message)" }
}
