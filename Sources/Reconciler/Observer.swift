import Foundation

/// Limits and pacing of a pass.
public struct ExecutorSettings: Sendable {
    /// At most this many modem lanes run at a time (USB bus and CPU during boot storms).
    public var batch: Int
    /// Rounds of observe → plan → apply in one pass; later steps need earlier results.
    public var maxRounds: Int
    public var actionTimeout: Duration
    /// Connect waits for the network: longer than other calls.
    public var connectTimeout: Duration
    public var observeTimeout: Duration
    public var backoff: Backoff

    public init(batch: Int = 5, maxRounds: Int = 5, actionTimeout: Duration = .seconds(30), connectTimeout: Duration = .seconds(90),
                observeTimeout: Duration = .seconds(30), backoff: Backoff = .actions) {
        self.batch = batch
        self.maxRounds = maxRounds
        self.actionTimeout = actionTimeout
        self.connectTimeout = connectTimeout
        self.observeTimeout = observeTimeout
        self.backoff = backoff
    }
}

/// Takes one look at the world through the drivers.
struct Observer: Sendable {
    var drivers: DriverSet
    var settings: ExecutorSettings

    /// `extraProxies`: modems no longer in the spec that may still run a proxy of ours.
    /// Probes are taken for connected modems whose interval has passed, when `probing`.
    /// `unanswered`: modems (by USB path) that did not answer earlier in this pass; they are not
    /// asked again, so one hung modem costs a pass one timeout, not one per round.
    func observe(_ desired: DesiredFarm, memory: [String: ModemMemory], extraProxies: Set<String>, probing: Bool, now: Date,
                 unanswered: [String: LaneFailure] = [:]) async throws(LaneFailure) -> ObservedFarm {
        let inventory = drivers.inventory
        let plugged = try await withDeadline(settings.observeTimeout, "listing plugged modems") { try await inventory.pluggedModems() }
        let looks = await look(at: plugged, memory: memory, unanswered: unanswered)
        var observed = ObservedFarm()
        // Modems by index, not by copy: a large farm's pass builds this table every time.
        let bySerial = Dictionary(desired.modems.indices.map { (desired.modems[$0].serial, $0) }, uniquingKeysWith: { first, _ in first })
        let serialByPath = Dictionary(memory.values.compactMap { m in m.usbPath.map { ($0, m.serial) } }, uniquingKeysWith: { first, _ in first })
        observed.modems.reserveCapacity(looks.count)
        for look in looks {
            let identities = [look.plugged.usbSerial, look.state?.imei, look.state == nil ? serialByPath[look.plugged.usbPath] : nil]
            guard let index = identities.lazy.compactMap({ $0 }).compactMap({ bySerial[$0] }).first,
                  observed.modems[desired.modems[index].name] == nil else {
                observed.unclaimed.append(look.plugged)
                continue
            }
            observed.modems[desired.modems[index].name] = look
        }
        let network = drivers.network
        let tables = desired.ownedTables
        observed.network = try await withDeadline(settings.observeTimeout, "reading routes and rules") { try await network.observe(tables: tables) }
        var ports = Dictionary(uniqueKeysWithValues: desired.modems.map { ($0.name, $0.ports) })
        for name in extraProxies where ports[name] == nil { ports[name] = [] }
        let proxies = drivers.proxies
        let wanted = ports
        observed.proxies = try await withDeadline(settings.observeTimeout, "looking at proxies") { try await proxies.observe(ports: wanted) }
        if probing { observed.probes = await probe(desired, observed, memory: memory, now: now) }
        return observed
    }

    /// Reads every plugged modem (identity and state), `batch` at a time.
    private func look(at plugged: [PluggedModem], memory: [String: ModemMemory], unanswered: [String: LaneFailure]) async -> [ObservedModem] {
        let control = drivers.modems
        let limit = settings.observeTimeout
        let sessions = Dictionary(memory.values.flatMap { m in [m.serial, m.usbPath].compactMap { $0 }.map { ($0, m.session) } },
                                  uniquingKeysWith: { first, _ in first })
        return await boundedConcurrently(plugged, limit: settings.batch) { modem in
            if let failure = unanswered[modem.usbPath] { return ObservedModem(plugged: modem, failure: failure) }
            let remembered = (modem.usbSerial.flatMap { sessions[$0] } ?? sessions[modem.usbPath]) ?? nil
            do {
                let state = try await withDeadline(limit, "reading modem at \(modem.portPath)") { try await control.observe(modem, remembered: remembered) }
                return ObservedModem(plugged: modem, state: state)
            } catch {
                return ObservedModem(plugged: modem, failure: LaneFailure(error))
            }
        }
    }

    /// Probes connected modems whose health interval has passed since their last probe.
    private func probe(_ desired: DesiredFarm, _ observed: ObservedFarm, memory: [String: ModemMemory], now: Date) async -> [String: ProbeResult] {
        let due = desired.modems.compactMap { modem -> (String, String, UInt32, String, Duration)? in
            guard modem.enabled, let look = observed.modems[modem.name], look.state?.session != nil,
                  let interface = look.plugged.interface else { return nil }
            if let last = memory[modem.serial]?.lastProbe, now.timeIntervalSince(last) < modem.health.interval.seconds { return nil }
            return (modem.name, modem.health.url, modem.uid, interface, modem.health.timeout)
        }
        let health = drivers.health
        let results = await boundedConcurrently(due, limit: settings.batch) { name, url, uid, interface, timeout in
            let result: ProbeResult
            do {
                result = try await withDeadline(timeout + .seconds(5), "health probe") {
                    await health.probe(url: url, uid: uid, interface: interface, timeout: timeout)
                }
            } catch {
                let failure = LaneFailure(error)
                result = ProbeResult(ok: false, failure: "\(failure.reason): \(failure.message)", latency: timeout)
            }
            return (name, result)
        }
        return Dictionary(results, uniquingKeysWith: { first, _ in first })
    }
}
