/// The lab of docs/lab.md as names and addresses: two network namespaces, `<name>-farm` (the
/// proxy host) and `<name>-inet` (the internet), one veth per modem and one host uplink.
/// Only documentation ranges are used, so the lab never collides with a real network:
/// modem k's carrier side is 100.64.k.0/24 (gateway 100.64.k.1 on `carrierk`, addresses
/// 100.64.k.2–254 for the simulated modem to hand out), the uplink 192.0.2.0/24, and the
/// what-is-my-IP server 198.51.100.10.
struct LabTopology: Sendable, Equatable {
    static let uplinkAddress = "192.0.2.2/24"
    static let uplinkGateway = "192.0.2.1"
    static let serverAddress = "198.51.100.10"
    static let serverPort = 80
    static let maximumModems = 254

    /// Prefix of the namespace names, e.g. `pf` or `pf4711` for a test run.
    let name: String
    let modems: ClosedRange<Int>

    init(name: String, modems: Int) throws(LabError) {
        guard Self.isValidName(name) else { throw .invalidName(name) }
        guard (1...Self.maximumModems).contains(modems) else { throw .invalidModemCount(modems) }
        self.name = name
        self.modems = 1...modems
    }

    /// Topology for taking down whatever exists under `name`; the modem count does not matter there.
    init(name: String) throws(LabError) {
        try self.init(name: name, modems: 1)
    }

    var farmNamespace: String { "\(name)-farm" }
    var internetNamespace: String { "\(name)-inet" }
    var namespaces: [String] { [farmNamespace, internetNamespace] }

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

    /// Letters, digits and `-`, short enough that `<name>-inet` stays a reasonable file name.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 32 && name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-"
        }
    }
}
