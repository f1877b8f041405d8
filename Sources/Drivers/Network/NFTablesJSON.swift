import Foundation
import Reconciler

/// Reads `nft -j list table inet proxyfarm` back into a guard. Only exactly the shapes
/// `NFTablesGuard.render` writes are recognised: a lane changed by hand into anything else is not
/// listed (so it is rewritten), and an `egress` chain that is not the one ProxyFarm writes — a
/// rule added, a hook or policy changed, the fence before a lane — counts as no guard at all.
enum NFTablesJSON {
    private typealias Object = [String: Any]

    static func guardState(_ data: Data) -> GuardState {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? Object, let items = root["nftables"] as? [Object] else {
            return GuardState(unreadable: "nft printed JSON that cannot be read")
        }
        var egressIntact = false
        var egressRules: [[Object]] = []
        var laneRules: [String: [[Object]]] = [:]
        for item in items {
            if let chain = item["chain"] as? Object, chain["name"] as? String == "egress" {
                egressIntact = chain["type"] as? String == "filter" && chain["hook"] as? String == "output"
                    && chain["policy"] as? String == "accept" && chain["prio"] as? Int == 0
            }
            guard let rule = item["rule"] as? Object, let chain = rule["chain"] as? String, let expr = rule["expr"] as? [Object] else { continue }
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
    private static func jumpUID(_ expr: [Object]) -> UInt32? {
        guard expr.count == 2, let uid = match(expr[0], meta: "skuid") as? Int,
              (expr[1]["jump"] as? Object)?["target"] as? String == "lane_\(uid)" else { return nil }
        return UInt32(exactly: uid)
    }

    /// `meta skuid A-B counter reject`
    private static func fenceRange(_ expr: [Object]) -> ClosedRange<UInt32>? {
        guard expr.count == 3, let range = (match(expr[0], meta: "skuid") as? Object)?["range"] as? [Int], range.count == 2,
              let low = UInt32(exactly: range[0]), let high = UInt32(exactly: range[1]), low <= high,
              expr[1]["counter"] != nil, expr[2]["reject"] != nil else { return nil }
        return low...high
    }

    /// `[oifname "IF" accept] [tcp sport { P… } accept] counter reject`, nothing else.
    private static func lane(uid: UInt32, _ rules: [[Object]]) -> (lane: GuardLane, refused: Int)? {
        guard let last = rules.last, last.count == 2, let counter = last[0]["counter"] as? Object, last[1]["reject"] != nil else { return nil }
        var interface: String?
        var ports: [Int] = []
        for (index, expr) in rules.dropLast().enumerated() {
            guard expr.count == 2, expr[1].keys.contains("accept") else { return nil }
            if index == 0, let name = match(expr[0], meta: "oifname") as? String {
                interface = name
            } else if ports.isEmpty, let sports = tcpSourcePorts(expr[0]) {
                ports = sports
            } else {
                return nil
            }
        }
        return (GuardLane(uid: uid, interface: interface, replyPorts: ports), counter["packets"] as? Int ?? 0)
    }

    /// The right-hand side of `meta KEY == …`.
    private static func match(_ expr: Object, meta key: String) -> Any? {
        guard let match = expr["match"] as? Object, match["op"] as? String == "==",
              ((match["left"] as? Object)?["meta"] as? Object)?["key"] as? String == key else { return nil }
        return match["right"]
    }

    /// `tcp sport P` or `tcp sport { P, Q }`.
    private static func tcpSourcePorts(_ expr: Object) -> [Int]? {
        guard let match = expr["match"] as? Object, match["op"] as? String == "==",
              let payload = (match["left"] as? Object)?["payload"] as? Object,
              payload["protocol"] as? String == "tcp", payload["field"] as? String == "sport" else { return nil }
        if let port = match["right"] as? Int { return [port] }
        guard let ports = (match["right"] as? Object)?["set"] as? [Int], !ports.isEmpty else { return nil }
        return ports
    }
}
