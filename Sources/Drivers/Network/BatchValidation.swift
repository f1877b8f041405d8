import Reconciler
#if canImport(Glibc)
import Glibc
#endif

/// Checks the values of a change before they become an `ip -batch` line (see `apply`).
enum BatchValidation {
    /// What is wrong with the change, or nil when it can be sent.
    static func problem(in change: NetworkChange) -> String? {
        switch change {
        case .setAddress(let interface, let cidr):
            interfaceProblem(interface) ?? (isCIDR(cidr) ? nil : "invalid IPv4 address \(quoted(cidr))")
        case .linkUp(let interface):
            interfaceProblem(interface)
        case .addRoute(let route), .removeRoute(let route):
            routeProblem(route)
        case .addRule(let rule), .removeRule(let rule):
            ruleProblem(rule)
        case .setGuardLane, .removeGuardLane, .setGuardFence:
            nil
        }
    }

    private static func routeProblem(_ route: TableRoute) -> String? {
        if let problem = tableProblem(route.table) { return problem }
        guard case .defaultVia(let interface, let gateway) = route.kind else { return nil }
        if let gateway, !isIPv4(gateway) { return "invalid IPv4 gateway \(quoted(gateway))" }
        return interfaceProblem(interface)
    }

    private static func ruleProblem(_ rule: RoutingRule) -> String? {
        if let problem = tableProblem(rule.table) { return problem }
        guard (0...Int(UInt32.max)).contains(rule.priority) else { return "invalid rule priority \(rule.priority)" }
        switch rule.selector {
        case .uidRange(let first, let last): return first <= last ? nil : "invalid uid range \(first)-\(last)"
        case .from(let source): return isCIDR(source) || isIPv4(source) ? nil : "invalid IPv4 source \(quoted(source))"
        case .oif(let interface): return interfaceProblem(interface)
        case .uidTCPSourcePort(_, let port): return (1...65535).contains(port) ? nil : "invalid port \(port)"
        }
    }

    private static func tableProblem(_ table: Int) -> String? {
        (1...Int(UInt32.max)).contains(table) ? nil : "invalid table \(table)"
    }

    /// Linux names: 1–15 bytes; ProxyFarm's are letters, digits and `_.-`.
    static func interfaceProblem(_ name: String) -> String? {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || byte == 0x5F || byte == 0x2E || byte == 0x2D
        }
        return allowed && (1...15).contains(name.utf8.count) ? nil : "invalid interface name \(quoted(name))"
    }

    private static func isIPv4(_ text: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    private static func isCIDR(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let length = Int(parts[1]), (0...32).contains(length) else { return false }
        return isIPv4(String(parts[0]))
    }

    private static func quoted(_ text: String) -> String {
        "\"" + NetworkError.printable(text) + "\""
    }
}
