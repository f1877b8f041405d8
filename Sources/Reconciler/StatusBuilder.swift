import Foundation
import Spec

/// Turns the end of a pass into status values (DESIGN §5). Pure: the previous status only
/// supplies each condition's `since`.
public enum StatusBuilder {
    /// `routingProblems`: the modem's share of the plan's `routingProblems`.
    public static func modem(_ modem: DesiredModem, observed: ObservedFarm, routingProblems: [String], memory: ModemMemory?, outcome: LaneOutcome?,
                             waiting: String?, previous: ModemStatus?, revision: String, now: Date,
                             timeZone: TimeZone = .current) -> ModemStatus {
        let memory = memory ?? ModemMemory(serial: modem.serial)
        let plugged = observed.modems[modem.name]
        let state = plugged?.state
        let proxy = observed.proxies[modem.name]
        let failure = outcome?.failure ?? memory.lastFailure
        var conditions = Conditions(modem: modem, plugged: plugged, memory: memory, failure: failure, failedStep: outcome?.failedStep)
            .all(network: observed.network, routingProblems: routingProblems, proxy: proxy)
        for index in conditions.indices {
            conditions[index].since = previous?.since(conditions[index].type, ifStill: conditions[index].status) ?? now
        }
        let phase = phase(modem, plugged: plugged, conditions: conditions, failure: failure)
        let why = phase == .ready ? nil : explanation(modem, conditions: conditions, failure: failure, waiting: waiting)
        return ModemStatus(
            name: modem.name, serial: modem.serial, enabled: modem.enabled,
            phase: phase, reason: why?.reason, message: why?.message,
            conditions: conditions, imei: state?.imei, usbPath: plugged?.plugged.usbPath, usbPort: plugged?.plugged.portPath,
            controlDevice: plugged?.plugged.controlDevice, interface: plugged?.plugged.interface,
            ip: state?.session == nil ? nil : state?.settings?.address,
            publicIP: memory.lastProbeResult?.ok == true ? memory.lastProbeResult?.publicIP : nil,
            prefixLength: state?.session == nil ? nil : state?.settings?.prefixLength,
            gateway: state?.session == nil ? nil : state?.settings?.gateway,
            dns: state?.session == nil ? [] : state?.settings?.dns ?? [],
            signal: state?.signal, operatorName: state?.registration.operatorName, radioTechnology: state?.registration.radioTechnology,
            httpPort: modem.httpPort, socksPort: modem.socksPort, uid: modem.uid, table: modem.table,
            proxyPid: proxy?.process?.pid, guardRefusedPackets: observed.network.egressGuard.refusedPackets[modem.uid],
            traffic: memory.traffic?.total,
            users: UserTraffic.users(modem.proxy?.users ?? [], counters: proxy?.counters, now: now, timeZone: timeZone),
            rotation: .init(schedule: schedule(modem.rotation), count: memory.rotations, last: memory.lastRotation,
                            lastKeptSameAddress: memory.lastRotationSameAddress),
            health: .init(url: modem.health.url, lastProbe: memory.lastProbe,
                          lastLatencySeconds: memory.lastProbeResult.map { $0.latency.seconds },
                          lastFailure: memory.lastProbeResult?.failure, consecutiveFailures: memory.consecutiveHealthFailures,
                          probeFailures: memory.probeFailures ?? 0,
                          resets: memory.resets, lastReset: memory.lastReset),
            waiting: waiting, problems: modem.problems, specRevision: revision)
    }

    static func phase(_ modem: DesiredModem, plugged: ObservedModem?, conditions: [Condition], failure: LaneFailure?) -> Phase {
        guard modem.enabled else { return .disabled }
        guard plugged != nil else { return .missing }
        let index = { (kind: Condition.Kind) in conditions.firstIndex { $0.type == kind } }
        let status = { (kind: Condition.Kind) in index(kind).map { conditions[$0].status } }
        let simStuck = status(.simReady) == "False" && index(.simReady).map { conditions[$0].reason } != "SimPinRequired"
        if !modem.problems.isEmpty || failure != nil || plugged?.state == nil || simStuck { return .error }
        if [Condition.Kind.connected, .routed, .proxyServing].contains(where: { status($0) != "True" }) { return .connecting }
        if status(.healthy) == "False" { return .degraded }
        return .ready
    }

    /// Why a modem is not Ready, most telling first: its configuration, the failure of this pass,
    /// the first condition that does not hold, a wait.
    static func explanation(_ modem: DesiredModem, conditions: [Condition], failure: LaneFailure?, waiting: String?)
        -> (reason: String, message: String) {
        if !modem.problems.isEmpty { return ("ConfigError", modem.problems.joined(separator: "; ")) }
        if let failure { return (failure.reason, failure.message + (waiting.map { "; \($0)" } ?? "")) }
        if let blocking = conditions.first(where: { $0.status != "True" && $0.type != .healthy }) ?? conditions.first(where: { $0.status != "True" }) {
            return (blocking.reason, "\(blocking.type.rawValue): \(blocking.message)")
        }
        return ("Waiting", waiting ?? "the last pass left work to do")
    }

    static func schedule(_ rotation: Rotation) -> String {
        switch rotation {
        case .never: "never"
        case .every(let interval): "every \(formatted(interval.seconds))"
        case .at(let times): "at " + times.map(\.description).joined(separator: ", ")
        }
    }

    /// The farm's summary line for farm.json.
    public static func farm(_ modems: [ModemStatus], observed: ObservedFarm, revision: String, passStarted: Date,
                            passEnded: Date, converged: Bool, failedActions: Int) -> FarmStatus {
        var phases = Dictionary(uniqueKeysWithValues: Phase.allCases.map { ($0.rawValue, 0) })
        for modem in modems { phases[modem.phase.rawValue, default: 0] += 1 }
        let allReady = modems.allSatisfy { !$0.enabled || $0.phase == .ready }
        return FarmStatus(specRevision: revision, lastPass: passEnded, lastPassSeconds: passEnded.timeIntervalSince(passStarted),
                          converged: converged && allReady, modems: modems.count, phases: phases,
                          unclaimedModems: observed.unclaimed.map(\.portPath).sorted(), failedActions: failedActions)
    }
}
