import Foundation
import Reconciler
import Spec

/// Reads `nft -j list table inet proxyfarm` back into a guard. Only exactly the shapes
/// `NFTablesGuard.render` writes are recognised: a lane changed by hand into anything else is not
/// listed (so it is rewritten), and an `egress` chain that is not the one ProxyFarm writes — a
/// rule added, a hook or policy changed, the fence before a lane — counts as no guard at all.
enum NFTablesJSON {
    static func guardState(_ data: Data) -> GuardState {
        guard let items = JSONValue.parse(data)?["nftables"]?.array else {
            return GuardState(unreadable: "nft printed JSON that cannot be read")
        }
        var egressIntact = false
        var egressRules: [[JSONValue]] = []
        var laneRules: [String: [[JSONValue]]] = [:]
        for item in items {
            if let chain = item["chain"], chain["name"]?.string == "egress" {
                egressIntact = chain["type"]?.string == "filter" && chain["hook"]?.string == "output"
                    && chain["policy"]?.string == "accept" && chain["prio"]?.integer == 0
            }
            guard let rule = item["rule"], let chain = rule["chain"]?.string, let expr = rule["expr"]?.array else { continue }
            if chain == "egress" { egressRules.append(expr) } else { laneRules[chain, default: []].append(expr) }
        }
        guard egressIntact else { return GuardState() }

        var state = GuardState()
        for (index, expr) in egressRules.enumerated() {
            if let uid = jumpUID(expr), state.fence == nil, let lane = lane(uid: uid, laneRules["lane_\(uid)"] ?? []) {
                state.lanes[uid] = lane.lane
                state.refusedPackets[uid] = lane.refused
            } else if let fence = fenceRange(expr), index == egressRules.count - 1 {
                state.fence = fence
            } else if jumpUID(expr) == nil {
                return GuardState()
            }
        }
        return state
    }

    /// `meta skuid U jump lane_U`
    private static func jumpUID(_ expr: [JSONValue]) -> UInt32? {
        guard expr.count == 2, let uid = match(expr[0], meta: "skuid")?.integer,
              expr[1]["jump"]?["target"]?.string == "lane_\(uid)" else { return nil }
        return UInt32(exactly: uid)
    }

    /// `meta skuid A-B counter reject`
    private static func fenceRange(_ expr: [JSONValue]) -> ClosedRange<UInt32>? {
        guard expr.count == 3, let range = integers(match(expr[0], meta: "skuid")?["range"]), range.count == 2,
              let low = UInt32(exactly: range[0]), let high = UInt32(exactly: range[1]), low <= high,
              expr[1]["counter"] != nil, expr[2]["reject"] != nil else { return nil }
        return low...high
    }

    /// `[oifname "IF" accept] [tcp sport { P… } accept] counter reject`, nothing else.
    private static func lane(uid: UInt32, _ rules: [[JSONValue]]) -> (lane: GuardLane, refused: Int)? {
        guard let last = rules.last, last.count == 2, let counter = last[0]["counter"], counter.isObject, last[1]["reject"] != nil else { return nil }
        var interface: String?
        var ports: [Int] = []
        for (index, expr) in rules.dropLast().enumerated() {
            guard expr.count == 2, expr[1]["accept"] != nil else { return nil }
            if index == 0, let name = match(expr[0], meta: "oifname")?.string {
                interface = name
            } else if ports.isEmpty, let sports = tcpSourcePorts(expr[0]) {
                ports = sports
            } else {
                return nil
            }
        }
        return (GuardLane(uid: uid, interface: interface, replyPorts: ports), counter["packets"]?.integer ?? 0)
    }

    /// The right-hand side of `meta KEY == …`.
    private static func match(_ expr: JSONValue, meta key: String) -> JSONValue? {
        guard let match = expr["match"], match["op"]?.string == "==", match["left"]?["meta"]?["key"]?.string == key else { return nil }
        return match["right"]
    }

    /// A list of integers only, as nft writes ranges and sets.
    private static func integers(_ value: JSONValue?) -> [Int]? {
        guard let items = value?.array else { return nil }
        let numbers = items.compactMap(\.integer)
        return numbers.count == items.count ? numbers : nil
    }

    /// `tcp sport P` or `tcp sport { P, Q }`.
    private static func tcpSourcePorts(_ expr: JSONValue) -> [Int]? {
        guard let match = expr["match"], match["op"]?.string == "==", let payload = match["left"]?["payload"],
              payload["protocol"]?.string == "tcp", payload["field"]?.string == "sport" else { return nil }
        if let port = match["right"]?.integer { return [port] }
        guard let ports = integers(match["right"]?["set"]), !ports.isEmpty else { return nil }
        return ports
    }
}
