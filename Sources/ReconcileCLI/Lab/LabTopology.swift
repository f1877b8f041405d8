import Foundation

/// The lab of docs/lab.md as names and addresses. Only documentation ranges are used, so the lab
/// never collides with a real network: modem k's carrier side is 100.64.k.0/24 (gateway 100.64.k.1
/// on `carrierk`, addresses 100.64.k.2–254 for the simulated modem to hand out), the lab network
/// 192.0.2.0/24, the what-is-my-IP server 198.51.100.10 and a customer 203.0.113.10.
///
/// One farm host (the default): namespaces `<name>-farm` and `<name>-inet`, the host's uplink
/// `eth0` 192.0.2.2 paired with `uplink0` 192.0.2.1 in `inet`. With `hosts` (a multi-host farm,
/// DESIGN §9): farm hosts `<name>-host-K` at 192.0.2.(K+1) and a gateway `<name>-gw` at
/// 192.0.2.200, their uplinks on one bridge `lan0` (192.0.2.1) in `inet`; host K has modems
/// (K-1)·N+1…K·N, so every modem keeps one number, one carrier and one name across the farm.
struct LabTopology: Sendable, Equatable {
    static let uplinkAddress = "192.0.2.2/24"
    static let uplinkGateway = "192.0.2.1"
    static let serverAddress = "198.51.100.10"
    static let serverPort = 80
    static let maximumModems = 254
    static let maximumHosts = 9
    /// The gateway's address on the lab network (multi-host labs).
    static let gatewayAddress = "192.0.2.200"
    /// A customer on the internet side: an address on `inet`'s loopback, allowed at the gateway.
    static let customerAddress = "203.0.113.10"
    static let customerNetwork = "203.0.113.0/24"
    static let bridge = "lan0"
    /// `lab run --host gateway` runs in the gateway's namespace.
    static let gatewayHostName = "gateway"

    /// A machine with an uplink on the lab network: a farm host, or the gateway.
    struct Machine: Sendable, Equatable {
        /// The host's name in farm.yaml (`host-K`), nil for the one host of a one-host lab.
        var host: String?
        var namespace: String
        /// The uplink's peer in `inet`.
        var peer: String
        /// The uplink's address (no prefix length).
        var address: String
        /// Its modems; empty for the gateway.
        var modems: [Int]
    }

    /// Prefix of the namespace names, e.g. `pf` or `pf4711` for a test run.
    let name: String
    /// Every modem of the lab.
    let modems: ClosedRange<Int>
    /// Number of farm hosts of a multi-host lab; nil for the one-host lab.
    let hosts: Int?

    /// `modems` per host (`hosts` nil: the one-host lab).
    init(name: String, modems: Int, hosts: Int? = nil) throws(LabError) {
        guard Self.isValidName(name) else { throw .invalidName(name) }
        if let hosts, !(1...Self.maximumHosts).contains(hosts) { throw .invalidHostCount(hosts) }
        let total = modems * (hosts ?? 1)
        guard modems >= 1, (1...Self.maximumModems).contains(total) else { throw .invalidModemCount(total) }
        self.name = name
        self.modems = 1...total
        self.hosts = hosts
    }

    /// Topology for taking down whatever exists under `name`; the modem count does not matter there.
    init(name: String) throws(LabError) {
        try self.init(name: name, modems: 1)
    }

    var farmNamespace: String { "\(name)-farm" }
    var internetNamespace: String { "\(name)-inet" }
    var gatewayNamespace: String? { hosts == nil ? nil : "\(name)-gw" }

    /// The farm hosts.
    var farmHosts: [Machine] {
        guard let hosts else {
            return [Machine(host: nil, namespace: farmNamespace, peer: "uplink0", address: "192.0.2.2",
                            modems: Array(modems))]
        }
        let perHost = modems.count / hosts
        return (1...hosts).map { index in
            Machine(host: Self.hostName(index), namespace: "\(name)-host-\(index)", peer: "uplink\(index)",
                    address: "192.0.2.\(index + 1)", modems: Array(((index - 1) * perHost + 1)...(index * perHost)))
        }
    }

    /// Every machine on the lab network: the farm hosts, then the gateway.
    var machines: [Machine] {
        farmHosts + (gatewayNamespace.map { [Machine(host: Self.gatewayHostName, namespace: $0, peer: "uplinkgw", address: Self.gatewayAddress, modems: [])] } ?? [])
    }

    var namespaces: [String] { machines.map(\.namespace) + [internetNamespace] }

    /// The machine `lab run --host NAME` means: the one host when nil, else a host or the gateway.
    func machine(_ host: String?) throws(LabError) -> Machine {
        guard let host else {
            guard hosts == nil else { throw .needsHost(hosts: machines.compactMap(\.host)) }
            return farmHosts[0]
        }
        guard let machine = machines.first(where: { $0.host == host }) else { throw .unknownHost(host, hosts: machines.compactMap(\.host)) }
        return machine
    }

    static func hostName(_ index: Int) -> String { "host-\(index)" }
    static func modemInterface(_ modem: Int) -> String { "wwan\(modem)" }
    static func carrierInterface(_ modem: Int) -> String { "carrier\(modem)" }
    /// The carrier side's address, which is also the gateway a simulated modem reports.
    static func carrierGateway(_ modem: Int) -> String { "100.64.\(modem).1" }
    static func modemPool(_ modem: Int) -> String { "100.64.\(modem).0/24" }

    /// The modem number of a `wwanN` interface name, nil for any other name.
    static func modemNumber(ofInterface interface: String) -> Int? {
        guard interface.hasPrefix("wwan") else { return nil }
        return Int(interface.dropFirst(4))
    }

    /// Whether `namespace` is one a lab called `name` makes (of either layout): `lab down` removes those.
    static func isLabNamespace(_ namespace: String, name: String) -> Bool {
        guard namespace.hasPrefix(name + "-") else { return false }
        let suffix = namespace.dropFirst(name.count + 1)
        if ["farm", "inet", "gw"].contains(suffix) { return true }
        return suffix.hasPrefix("host-") && Int(suffix.dropFirst(5)) != nil
    }

    /// Letters, digits and `-`, short enough that `<name>-inet` stays a reasonable file name.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 32 && name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-"
        }
    }
}
