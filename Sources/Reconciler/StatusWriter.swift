import Foundation

extension StateStore {
    /// How often farm.json and metrics.prom are rewritten when nothing in them but volatile facts
    /// changed: their `lastPass` then says, within this interval plus one daemon resync (60 s),
    /// that a reconciler is running — under the 3 minutes of the ProxyFarmNoPass alert
    /// (packaging/prometheus/alerts.yml).
    public static let statusHeartbeat: TimeInterval = 90

    /// Writes status/modems/*.json, status/farm.json and status/metrics.prom for the end of a pass,
    /// and removes the status files of modems that left farm.yaml. A file is written only when
    /// something an operator reads in it changed — not for its volatile facts alone (the last
    /// probe's time and latency, the signal, the pass's time, traffic that moved less than
    /// `ByteCounts.worthWriting`), which the next write carries
    /// (docs/status.md) — and farm.json and metrics.prom at least every `statusHeartbeat`.
    @discardableResult
    public func writeStatus(_ result: PassResult, desired: DesiredFarm, started: Date, ended: Date,
                            specErrors: [String]? = nil) throws(StateError) -> FarmStatus {
        var modems: [ModemStatus] = []
        var changed = false
        for modem in desired.modems {
            let previous = try previousStatus(modem.name)
            let status = StatusBuilder.modem(
                modem, observed: result.observed, routingProblems: result.remaining.routingProblems[modem.name] ?? [], memory: result.memory[modem.serial], outcome: result.outcomes[modem.name],
                waiting: result.remaining.deferred[modem.name], previous: previous, revision: desired.revision, now: ended,
                timeZone: desired.timeZone)
            var remembered = status
            if previous?.sameBesidesVolatileFacts(as: status) != true || status.trafficWorthWriting(over: previous) {
                try writeModemStatus(status)
                changed = true
            } else {
                remembered.traffic = previous?.traffic
                remembered.users = previous?.users
            }
            known.withLock { $0.modems[modem.name] = remembered }
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
        farm.lastSuccessfulPass = lastSuccessfulPass(farm.failedActions == 0 ? ended : nil)
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

    /// `success` when this pass had no failed action, else the last such pass's end: as this
    /// store last knew it, from farm.json the first time.
    private func lastSuccessfulPass(_ success: Date?) -> Date? {
        let known = self.known.withLock { $0.lastSuccessfulPass }
        let last = success ?? known ?? (try? readFarmStatus())?.lastSuccessfulPass
        self.known.withLock { $0.lastSuccessfulPass = last }
        return last
    }

    /// The status this store last built for the modem, with the traffic its file holds; from its
    /// file the first time.
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
    /// The status last built per modem: its file holds the same, up to volatile facts (its
    /// `traffic` is the file's).
    var modems: [String: ModemStatus] = [:]
    var farm: FarmStatus?
    var farmWrittenAt: Date?
    var lastSuccessfulPass: Date?
}

extension ModemMemory {
    /// Without the facts that change with every probe: what must survive a crash.
    var durable: ModemMemory {
        var memory = self
        memory.lastProbe = nil
        memory.lastProbeResult = nil
        return memory
    }

    /// Whether the memory differs from what its file holds (`disk`) by more than volatile facts.
    /// Traffic counts only once it moved enough: after a crash the remembered counters count the
    /// bytes since then again, so only bytes carried by an interface that was also re-created
    /// before the next look (a replug, a re-enumeration) are lost — at most 1 MiB or 1 % of the total.
    func differsDurably(from disk: ModemMemory) -> Bool {
        var mine = durable
        var written = disk.durable
        if let traffic, let writtenTraffic = disk.traffic, !traffic.total.worthWriting(over: writtenTraffic.total) {
            mine.traffic = nil
            written.traffic = nil
        }
        return mine != written
    }
}

extension ModemStatus {
    /// Whether the two differ at most in volatile facts: the last probe's time and latency (also
    /// quoted by the Healthy condition's message while it holds), the signal, the traffic and the
    /// users' counts. Compared in place: a large farm compares every modem on every pass.
    func sameBesidesVolatileFacts(as other: ModemStatus) -> Bool {
        guard conditions.count == other.conditions.count,
              conditions.indices.allSatisfy({ conditions[$0].sameBesidesVolatileFacts(as: other.conditions[$0]) }) else { return false }
        switch (users, other.users) {
        case (nil, nil): break
        case let (mine?, theirs?) where mine.count == theirs.count && mine.indices.allSatisfy({ mine[$0].withoutCounts == theirs[$0].withoutCounts }): break
        default: return false
        }
        return stableFacts == other.stableFacts
    }

    /// The status without its volatile scalars and without the arrays compared one by one above.
    private var stableFacts: ModemStatus {
        var status = self
        status.health.lastProbe = nil
        status.health.lastLatencySeconds = nil
        status.signal = nil
        status.traffic = nil
        status.users = nil
        status.conditions = []
        return status
    }
}

extension Condition {
    /// Equal, but for the message of a Healthy condition that holds in both (it quotes the latency).
    func sameBesidesVolatileFacts(as other: Condition) -> Bool {
        guard type == .healthy, status == "True", other.type == .healthy, other.status == "True" else { return self == other }
        var mine = self
        mine.message = other.message
        return mine == other
    }
}

extension ModemStatus {
    /// Traffic is rewritten once it moved enough (`ByteCounts.worthWriting`) or appeared or went;
    /// so are a user's counts (whether a user is over quota is no volatile fact).
    func trafficWorthWriting(over previous: ModemStatus?) -> Bool {
        let usersMoved = (users ?? []).contains { user in
            let written = previous?.users?.first { $0.name == user.name }
            return user.counts.worthWriting(over: written?.counts)
                || ByteCounts(receive: user.quotaUsedBytes ?? 0, transmit: 0)
                    .worthWriting(over: written.map { ByteCounts(receive: $0.quotaUsedBytes ?? 0, transmit: 0) })
        }
        guard let traffic, let written = previous?.traffic else { return usersMoved || traffic != previous?.traffic }
        return usersMoved || traffic.worthWriting(over: written)
    }
}

extension FarmStatus {
    var withoutVolatileFacts: FarmStatus {
        var status = self
        status.lastPass = Date(timeIntervalSince1970: 0)
        status.lastPassSeconds = 0
        status.lastSuccessfulPass = nil
        return status
    }
}
