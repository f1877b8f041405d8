import Foundation
import Reconciler

/// Reads `ip -N -json` dumps into the core's plain values. Numeric output (`-N`) is asked for so
/// that a table named in `/etc/iproute2/rt_tables` still shows as its number. Only routes and rules
/// of the shapes ProxyFarm writes are returned: anything else cannot be ours, so it is left alone.
enum IPRouteJSON {
    typealias Object = [String: Any]

    /// `ip -s -json link show`: every interface, which are administratively up, and the byte
    /// counters of those that show them (`stats64`, with `-s`).
    static func links(_ data: Data) throws(IPRouteJSONError) -> (names: [String], up: Set<String>, counters: [String: InterfaceCounters]) {
        var names: [String] = []
        var up: Set<String> = []
        var counters: [String: InterfaceCounters] = [:]
        for link in try objects(data) {
            guard let name = link["ifname"] as? String else { throw IPRouteJSONError("an interface without ifname") }
            names.append(name)
            if (link["flags"] as? [String] ?? []).contains("UP") { up.insert(name) }
            let stats = link["stats64"] as? Object
            if let index = link["ifindex"] as? Int, let receive = byteCount(stats?["rx"]), let transmit = byteCount(stats?["tx"]) {
                counters[name] = InterfaceCounters(index: index, bytes: ByteCounts(receive: receive, transmit: transmit))
            }
        }
        return (names, up, counters)
    }

    /// `ip -4 -json address show`: the IPv4 addresses (CIDR form) of the interfaces that have any.
    static func addresses(_ data: Data) throws(IPRouteJSONError) -> [String: [String]] {
        var addresses: [String: [String]] = [:]
        for link in try objects(data) {
            guard let name = link["ifname"] as? String else { throw IPRouteJSONError("an interface without ifname") }
            let infos = link["addr_info"] as? [Object] ?? []
            addresses[name, default: []] += infos.compactMap { info in
                guard info["family"] as? String == "inet", let local = info["local"] as? String,
                      let length = info["prefixlen"] as? Int else { return nil }
                return "\(local)/\(length)"
            }
        }
        return addresses
    }

    /// `{"bytes": N, …}`; JSONSerialization reads numbers past Int64 as Double or NSDecimalNumber.
    private static func byteCount(_ direction: Any?) -> UInt64? {
        guard let number = (direction as? Object)?["bytes"] as? NSNumber else { return nil }
        return number.uint64Value
    }

    /// `ip -N -4 -json route show table all exact 0/0`: the default and fail-closed routes in `tables`.
    static func routes(_ data: Data, tables: ClosedRange<Int>) throws(IPRouteJSONError) -> [TableRoute] {
        try objects(data).compactMap { route in
            guard let table = route["table"].map(tableNumber) ?? 254, tables.contains(table),
                  route["dst"] as? String == "default" else { return nil }
            let metric = route["metric"] as? Int ?? 0
            switch routeType(route["type"]) {
            case routeTypeUnicast where metric == 0:
                guard let device = route["dev"] as? String else { return nil }
                return TableRoute(table: table, kind: .defaultVia(interface: device, gateway: route["gateway"] as? String))
            case routeTypeUnreachable where metric == Int(UInt32.max):
                return TableRoute(table: table, kind: .unreachableDefault)
            default:
                return nil
            }
        }
    }

    /// `ip -N -4 -json rule show`: every rule that is a plain lookup with exactly one selector of
    /// the kinds ProxyFarm writes (uidrange, from, oif, or uidrange of one uid with `ipproto tcp
    /// sport P`). Duplicates stay duplicates.
    static func rules(_ data: Data) throws(IPRouteJSONError) -> [RoutingRule] {
        try objects(data).compactMap { rule in
            guard Set(rule.keys).isSubset(of: ruleKeys), let priority = rule["priority"] as? Int,
                  let table = rule["table"].flatMap(tableNumber) else { return nil }
            var selectors: [RoutingRule.Selector] = []
            if let start = rule["uid_start"] as? Int, let end = rule["uid_end"] as? Int,
               let first = UInt32(exactly: start), let last = UInt32(exactly: end) {
                if rule["ipproto"] == nil, rule["sport"] == nil {
                    selectors.append(.uidRange(first, last))
                } else if first == last, isTCP(rule["ipproto"]), let port = rule["sport"] as? Int {
                    selectors.append(.uidTCPSourcePort(uid: first, port: port))
                } else {
                    return nil
                }
            } else if rule["ipproto"] != nil || rule["sport"] != nil {
                return nil
            }
            if let source = rule["src"] as? String, source != "all" {
                let length = rule["srclen"] as? Int ?? 32
                selectors.append(.from(length == 32 ? source : "\(source)/\(length)"))
            }
            if let device = rule["oif"] as? String { selectors.append(.oif(device)) }
            guard selectors.count == 1, let selector = selectors.first else { return nil }
            return RoutingRule(priority: priority, selector: selector, table: table)
        }
    }

    /// Keys a rule of ours may show; any other (fwmark, iif, not, goto, …) makes it someone else's.
    private static let ruleKeys: Set<String> = ["priority", "src", "srclen", "table", "uid_start", "uid_end", "oif",
                                                "oif_detached", "protocol", "flags", "ipproto", "sport"]

    /// `-N` shows the protocol as `ipproto-6`, without it as `tcp`.
    private static func isTCP(_ value: Any?) -> Bool {
        ["tcp", "ipproto-6", "6"].contains(value as? String ?? (value as? Int).map(String.init) ?? "")
    }
    private static let routeTypeUnicast = 1
    private static let routeTypeUnreachable = 7

    /// With `-N` a table is a number (as a string); a route without one is in main (254).
    private static func tableNumber(_ value: Any) -> Int? {
         (value as? String).flatMap { Int($0) } ?? value as? Int
    }

    /// With `-N` the type is a number; unicast routes usually show none.
    private static func routeType(_ value: Any?) -> Int {
        guard let value else { return routeTypeUnicast }
        return (value as? String).flatMap { Int($0) } ?? value as? Int ?? -1
    }

    private static func objects(_ data: Data) throws(IPRouteJSONError) -> [Object] {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw IPRouteJSONError("not JSON: \(error.localizedDescription)")
        }
        guard let list = parsed as? [Object] else { throw IPRouteJSONError("not a JSON list of objects") }
        return list
    }
}

struct IPRouteJSONError: Error {
    var detail: String
    init(_ detail: String) { self.detail = detail }
}
