extension Planner {
    /// The routing every active modem should have (DESIGN §7); disabled and missing modems want none.
    static func routing(_ desired: DesiredFarm, _ situations: [String: LaneSituation]) -> [ModemRouting] {
        desired.modems.compactMap { modem in
            guard case .active(let observed, let state)? = situations[modem.name], let interface = observed.plugged.interface else { return nil }
            return modem.routing(interface: interface, settings: state.session == nil ? nil : state.settings)
        }
    }

    /// The routing wanted for a look at the farm.
    static func routing(_ desired: DesiredFarm, observed: ObservedFarm) -> [ModemRouting] {
        let situations = Dictionary(uniqueKeysWithValues: desired.modems.map { ($0.name, LaneSituation($0, observed.modems[$0.name])) })
        return routing(desired, situations)
    }

    /// Network changes from `networkChanges`, each given to the modem whose table or interface it
    /// concerns (unowned leftovers to no modem), with a reason. Modems that could not be read are
    /// left alone: what we cannot see, we do not tear down.
    static func networkActions(_ desired: DesiredFarm, _ situations: [String: LaneSituation], _ network: NetworkState)
        -> (byModem: [String: [PlannedAction]], unowned: [PlannedAction]) {
        let wanted = routing(desired, situations)
        let changes = networkChanges(desired: wanted, observed: network, ownedTables: desired.ownedTables)
        let placed = desired.modems.filter(\.placed)
        let byTable = Dictionary(placed.map { ($0.table, $0) }, uniquingKeysWith: { first, _ in first })
        let byUid = Dictionary(placed.map { ($0.uid, $0) }, uniquingKeysWith: { first, _ in first })
        var byInterface: [String: DesiredModem] = [:]
        for modem in desired.modems {
            if case .active(let observed, _)? = situations[modem.name], let interface = observed.plugged.interface { byInterface[interface] = modem }
        }
        var byModem: [String: [PlannedAction]] = [:]
        var unowned: [PlannedAction] = []
        for change in changes {
            let owner: DesiredModem? = switch change {
            case .setAddress(let interface, _), .linkUp(let interface): byInterface[interface]
            case .addRoute(let route), .removeRoute(let route): byTable[route.table]
            case .addRule(let rule), .removeRule(let rule):
                if case .uidTCPSourcePort(let uid, _) = rule.selector { byUid[uid] } else { byTable[rule.table] }
            }
            guard let owner else {
                unowned.append(PlannedAction(modem: nil, kind: .network(change), reason: "no modem owns it"))
                continue
            }
            let situation = situations[owner.name]
            if case .unreadable? = situation { continue }
            let reason = networkReason(change, owner: owner, situation: situation, wanted: wanted, network: network)
            byModem[owner.name, default: []].append(PlannedAction(modem: owner.name, kind: .network(change), reason: reason))
        }
        return (byModem, unowned)
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
        }
    }
}
