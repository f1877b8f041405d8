extension Planner {
    /// The routing every enabled lane should have (DESIGN §7), whether or not its modem can be
    /// read or is plugged in: a lane's guard, uid rule and `unreachable` route never depend on
    /// sight. A modem that answers gets its address and default route as it reports them; one
    /// that does not keeps what the kernel has (it cannot be changed, only protected); one that
    /// is not plugged in keeps only the fail-closed parts. Disabled modems want none (the guard's
    /// fence refuses their uid).
    static func routing(_ desired: DesiredFarm, _ situations: [String: LaneSituation], network: NetworkState) -> [ModemRouting] {
        desired.modems.compactMap { modem in situations[modem.name].flatMap { routing(for: modem, $0, network: network) } }
    }

    /// One modem's share of `routing(_:_:network:)`.
    static func routing(for modem: DesiredModem, _ situation: LaneSituation, network: NetworkState) -> ModemRouting? {
        switch situation {
        case .active(let observed, let state):
            return modem.routing(interface: observed.plugged.interface, settings: state.session == nil ? nil : state.settings)
        case .unreadable(let observed):
            guard let interface = observed.plugged.interface else { return modem.routing(interface: nil, settings: nil) }
            return modem.routing(interface: interface, settings: keptSettings(of: modem, interface: interface, network))
        case .missing:
            return modem.routing(interface: nil, settings: nil)
        case .disabled, .unplaced:
            return nil
        }
    }

    /// The address and default route the kernel has for a modem that cannot be read, so they are
    /// kept as they are; nil when either is gone (then only the fail-closed parts are wanted).
    private static func keptSettings(of modem: DesiredModem, interface: String, _ network: NetworkState) -> IPSettings? {
        guard let addresses = network.addresses[interface], addresses.count == 1 else { return nil }
        let parts = addresses[0].split(separator: "/")
        guard parts.count == 2, let length = Int(parts[1]) else { return nil }
        for route in network.routes where route.table == modem.table {
            if case .defaultVia(interface, let gateway) = route.kind {
                return IPSettings(address: String(parts[0]), prefixLength: length, gateway: gateway)
            }
        }
        return nil
    }

    /// The routing wanted for a look at the farm.
    static func routing(_ desired: DesiredFarm, observed: ObservedFarm) -> [ModemRouting] {
        let situations = Dictionary(uniqueKeysWithValues: desired.modems.map { ($0.name, LaneSituation($0, observed.modems[$0.name])) })
        return routing(desired, situations, network: observed.network)
    }

    /// Network changes from `networkChanges`, each given to the modem whose table or interface it
    /// concerns (unowned leftovers to no modem), with a reason; and each modem's mismatches.
    static func networkActions(_ desired: DesiredFarm, _ situations: [String: LaneSituation], _ network: NetworkState)
        -> (byModem: [String: [PlannedAction]], unowned: [PlannedAction], problems: [String: [String]]) {
        let wanted = routing(desired, situations, network: network)
        let (changes, mismatches) = routingComparison(desired: wanted, observed: network, owned: desired.owned)
        let problems = Dictionary(mismatches.compactMap { mismatch in mismatch.modem.map { ($0, mismatch.problems) } }, uniquingKeysWith: +)
        guard !changes.isEmpty else { return ([:], [], problems) }
        let placed = desired.modems.filter(\.placed)
        let byTable = Dictionary(placed.map { ($0.table, $0) }, uniquingKeysWith: { first, _ in first })
        let byUid = Dictionary(placed.map { ($0.uid, $0) }, uniquingKeysWith: { first, _ in first })
        let byName = Dictionary(desired.modems.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var byInterface: [String: DesiredModem] = [:]
        for routing in wanted {
            if let interface = routing.interface, let modem = byName[routing.modem] { byInterface[interface] = modem }
        }
        var byModem: [String: [PlannedAction]] = [:]
        var unowned: [PlannedAction] = []
        for change in changes {
            let owner: DesiredModem? = switch change {
            case .setAddress(let interface, _), .linkUp(let interface): byInterface[interface]
            case .addRoute(let route), .removeRoute(let route): byTable[route.table]
            case .addRule(let rule), .removeRule(let rule):
                if case .uidTCPSourcePort(let uid, _) = rule.selector { byUid[uid] } else { byTable[rule.table] }
            case .setGuardLane(let lane): byUid[lane.uid]
            case .removeGuardLane(let uid): byUid[uid]
            case .setGuardFence: nil
            }
            guard let owner else {
                let reason = if case .setGuardFence = change { network.egressGuard.unreadable.map { "the guard cannot be read: \($0)" } ?? "missing" } else { "no modem owns it" }
                unowned.append(PlannedAction(modem: nil, kind: .network(change), reason: reason))
                continue
            }
            let situation = situations[owner.name]
            let reason = networkReason(change, owner: owner, situation: situation, wanted: wanted, network: network)
            byModem[owner.name, default: []].append(PlannedAction(modem: owner.name, kind: .network(change), reason: reason))
        }
        return (byModem, unowned, problems)
    }

    static func networkReason(_ change: NetworkChange, owner: DesiredModem, situation: LaneSituation?,
                              wanted: [ModemRouting], network: NetworkState) -> String {
        if let teardown = situation?.teardownReason(owner.name) { return teardown }
        let mine = wanted.first { $0.table == owner.table }
        let oldFrom = network.rules.compactMap { rule -> String? in
            guard rule.table == owner.table, case .from(let address) = rule.selector else { return nil }
            return address
        }.first
        switch change {
        case .setAddress(let interface, let cidr):
            let current = network.addresses[interface] ?? []
            return current.isEmpty ? "modem has \(cidr), \(interface) has no address" : "address changed from \(current.joined(separator: ", ")) to \(cidr)"
        case .linkUp(let interface):
            return "\(interface) is down"
        case .addRule(let rule):
            if case .from = rule.selector, let oldFrom { return "address changed from \(oldFrom)" }
            return "missing"
        case .addRoute(let route):
            return route.kind == .unreachableDefault ? "fail-closed route missing" : "missing"
        case .removeRule(let rule):
            if mine?.rules.contains(rule) == true { return "duplicate" }
            if case .from = rule.selector, let address = mine?.address { return "stale: the address is now \(address)" }
            if case .uidTCPSourcePort = rule.selector, let ports = mine?.proxyPorts, !ports.isEmpty {
                return "stale: the proxy now listens on " + ports.map(String.init).joined(separator: ", ")
            }
            return "no longer wanted"
        case .removeRoute:
            return "no longer wanted"
        case .setGuardLane(let lane):
            if let unreadable = network.egressGuard.unreadable { return "the guard cannot be read: \(unreadable)" }
            guard let have = network.egressGuard.lanes[lane.uid] else { return "missing" }
            if have.interface != lane.interface { return "interface changed from \(have.interface ?? "none")" }
            return "proxy ports changed from " + (have.replyPorts.isEmpty ? "none" : have.replyPorts.map(String.init).joined(separator: ", "))
        case .removeGuardLane:
            return "no longer wanted"
        case .setGuardFence:
            return "missing"
        }
    }
}
