import Drivers
import Foundation
import Reconciler
import Testing

/// ProxyFarm's routing for a NetnsLab farm: modem N gets table and priority 100+N, uid 20000+N,
/// proxy ports 8100+N (HTTP) and 9100+N (SOCKS), `wwanN` with `100.64.N.2/24`; the reply rules sit
/// at priority 100. Modem 3 reports no gateway, so both route shapes are covered.
enum RoutingFixtures {
    static let ownedTables = 100...199
    static let owned = OwnedKernel(tables: ownedTables, uids: 20001...20099)
    static let repliesPriority = 100

    static func modem(_ n: Int, in lab: NetnsLab, host: Int = 2) -> ModemRouting {
        ModemRouting(modem: "m0\(n)", table: 100 + n, priority: 100 + n, repliesPriority: repliesPriority, uid: uid(n),
                     interface: lab.modemInterface(n), proxyPorts: ports(n),
                     address: "\(lab.address(n, host: host))/24", gateway: n == 3 ? nil : lab.gateway(n))
    }

    static func uid(_ n: Int) -> UInt32 { UInt32(20000 + n) }
    static func ports(_ n: Int) -> [Int] { [8100 + n, 9100 + n] }

    static func farm(_ lab: NetnsLab) -> [ModemRouting] { (1...lab.modems).map { modem($0, in: lab) } }

    /// One verified routing pass that must converge; returns the changes it applied.
    @discardableResult
    static func converge(_ driver: IPRouteNetworkControl, _ desired: [ModemRouting]) async throws -> [NetworkChange] {
        let pass = try await applyRouting(desired, using: driver, owned: owned)
        #expect(pass.applyError == nil, "\(pass.applyError?.message ?? "")")
        #expect(pass.mismatches == [])
        return pass.changes
    }

    /// Rules as `ip -json` shows them, one canonical line each (keys sorted), in kernel order.
    static func ruleDump(_ lab: NetnsLab) throws -> [String] {
        try lab.ipJSON(lab.farm, "rule", "show").map(canonical)
    }

    /// The rules whose priority is `priority`.
    static func rules(_ lab: NetnsLab, priority: Int) throws -> [String] {
        try ruleDump(lab).filter { $0.split(separator: " ").contains("priority=\(priority)") }
    }

    /// The routes of one table as `ip -json` shows them.
    static func routes(_ lab: NetnsLab, table: Int) throws -> [String] {
        try lab.ipJSON(lab.farm, "route", "show", "table", "\(table)").map(canonical)
    }

    /// Everything the kernel shows of rules, all IPv4 routes, addresses and nftables: to compare before/after.
    static func fullDump(_ lab: NetnsLab) throws -> [String] {
        let routes: [String] = try lab.ipJSON(lab.farm, "-4", "route", "show", "table", "all").map(canonical)
        let addresses: [String] = try lab.ipJSON(lab.farm, "-4", "address", "show").map(canonical)
        let nftables = try LabCommand.check(lab.command(in: lab.farm, ["nft", "list", "ruleset"]))
        return try ruleDump(lab) + routes + addresses + nftables.split(separator: "\n").map(String.init)
    }

    /// Waits until the modems' links report carrier: the kernel updates operstate and the routes'
    /// `linkdown` flag on its own shortly after a link comes up, which is not ProxyFarm's doing.
    static func waitForCarrier(_ lab: NetnsLab) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while clock.now < deadline {
            let links = try lab.ipJSON(lab.farm, "link", "show").filter { ($0["ifname"] as? String)?.hasPrefix("wwan") == true }
            if links.allSatisfy({ $0["operstate"] as? String == "UP" }) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the modems' links did not get carrier within 5 s")
    }

    static func canonical(_ object: [String: any Sendable]) -> String {
        object.keys.sorted().map { key in "\(key)=\(flat(object[key]))" }.joined(separator: " ")
    }

    private static func flat(_ value: Any?) -> String {
        switch value {
        case let list as [Any]: "[" + list.map { flat($0) }.joined(separator: ",") + "]"
        case let object as [String: Any]: "{" + object.keys.sorted().map { "\($0)=\(flat(object[$0]))" }.joined(separator: " ") + "}"
        case nil, is NSNull: "null"
        case let value?: "\(value)"
        }
    }
}
