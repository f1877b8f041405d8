import Foundation

extension StateStore {
    /// How often farm.json and metrics.prom are rewritten when nothing in them but volatile facts
    /// changed: their `lastPass` then says, within this interval, that a reconciler is running.
    public static let statusHeartbeat: TimeInterval = 300

    /// Writes status/modems/*.json, status/farm.json and status/metrics.prom for the end of a pass,
    /// and removes the status files of modems that left farm.yaml. A file is written only when
    /// something an operator reads in it changed — not for its volatile facts alone (the last
    /// probe's time and latency, the signal, the pass's time), which the next write carries
    /// (docs/status.md) — and farm.json and metrics.prom at least every `statusHeartbeat`.
    @discardableResult
    public func writeStatus(_ result: PassResult, desired: DesiredFarm, started: Date, ended: Date,
                            specErrors: [String]? = nil) throws(StateError) -> FarmStatus {
        var modems: [ModemStatus] = []
        var changed = false
        for modem in desired.modems {
            let previous = try previousStatus(modem.name)
            let status = StatusBuilder.modem(
                modem, observed: result.observed, memory: result.memory[modem.serial], outcome: result.outcomes[modem.name],
                waiting: result.remaining.deferred[modem.name], previous: previous, revision: desired.revision, now: ended)
            if previous?.withoutVolatileFacts != status.withoutVolatileFacts {
                try writeModemStatus(status)
                changed = true
            }
            known.withLock { $0.modems[modem.name] = status }
            modems.append(status)
        }
        let listed = Set(desired.modems.map(\.name))
        for name in statusNames() where !listed.contains(name) {
            try removeModemStatus(name)
            changed = true
        }
        var farm = StatusBuilder.farm(modems, observed: result.observed, revision: desired.revision, passStarted: started,
                                      passEnded: ended, converged: result.converged, failedActions: result.failedActions)
        farm.specErrors = specErrors
        let (written, writtenAt) = known.withLock { ($0.farm, $0.farmWrittenAt) }
        let due = writtenAt.map { ended.timeIntervalSince($0) >= Self.statusHeartbeat || ended < $0 } ?? true
        if changed || due || written?.withoutVolatileFacts != farm.withoutVolatileFacts {
            try writeFarmStatus(farm)
            try writeMetrics(Metrics.render(farm: farm, modems: modems))
            known.withLock {
                $0.farm = farm
                $0.farmWrittenAt = ended
            }
        }
        return farm
    }

    /// The status this store last built for the modem; from its file the first time.
    private func previousStatus(_ name: String) throws(StateError) -> ModemStatus? {
        if let status = known.withLock({ $0.modems[name] }) { return status }
        return (try? readModemStatus(name)) ?? nil
    }
}

/// What a `StateStore` knows to be on disk (it holds the lock, so nobody else writes there):
/// nil where it has not looked yet.
struct Known: Sendable {
    var allocations: Allocations?
    /// The memory as last saved (volatile facts included), and what its files hold.
    var memory: [String: ModemMemory]?
    var memoryOnDisk: [String: ModemMemory] = [:]
    var statusNames: Set<String>?
    /// The status last built per modem: its file holds the same, up to volatile facts.
    var modems: [String: ModemStatus] = [:]
    var farm: FarmStatus?
    var farmWrittenAt: Date?
}

extension ModemMemory {
    /// Without the facts that change with every probe: what must survive a crash.
    var durable: ModemMemory {
        var memory = self
        memory.lastProbe = nil
        memory.lastProbeResult = nil
        return memory
    }
}

extension ModemStatus {
    /// Also without the Healthy condition's message while it holds: it quotes the last latency.
    var withoutVolatileFacts: ModemStatus {
        var status = self
        status.health.lastProbe = nil
        status.health.lastLatencySeconds = nil
        status.signal = nil
        for index in status.conditions.indices where status.conditions[index].type == .healthy && status.conditions[index].status == "True" {
            status.conditions[index].message = ""
        }
        return status
    }
}

extension FarmStatus {
    var withoutVolatileFacts: FarmStatus {
        var status = self
        status.lastPass = Date(timeIntervalSince1970: 0)
        status.lastPassSeconds = 0
        return status
    }
}
