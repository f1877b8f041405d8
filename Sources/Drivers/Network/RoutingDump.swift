import Foundation
import Reconciler

/// What a pass reads of the kernel's routing, asked over rtnetlink in this process: one dump each of
/// links (with their byte counters), IPv4 addresses, IPv4 routes of every table and IPv4 rules.
/// These are the same kernel answers `ip -4 -s -json link|address|route|rule show` prints, read
/// without starting `ip` and parsing its JSON, which at 100 modems cost more than the rest of the
/// pass's network look together.
///
/// Rules and routes are read the way `IPRouteNetworkControl.apply` writes them; anything with a
/// property ProxyFarm never sets (fwmark, iif, `not`, tos, a destination, another action, …) is
/// someone else's and left out.
struct RoutingDump {
    var names: [String]
    var upInterfaces: Set<String>
    var counters: [String: InterfaceCounters]
    var addresses: [String: [String]]
    var routes: [TableRoute]
    var rules: [RoutingRule]

    /// Dumps the calling thread's network namespace; `tables` are the routing tables that are ours.
    static func read(tables: ClosedRange<Int>) throws(RoutingDumpError) -> RoutingDump {
        guard let socket = Netlink(protocol: 0 /* NETLINK_ROUTE */) else {
            throw RoutingDumpError("no rtnetlink socket: " + String(cString: strerror(errno)))
        }
        let links = try socket.dump(type: getLink, header: [UInt8](repeating: 0, count: 16), headerSize: 16)
        var names: [String] = []
        var nameOfIndex: [Int32: String] = [:]
        var up: Set<String> = []
        var counters: [String: InterfaceCounters] = [:]
        for link in links where link.type == newLink {
            let index = link.header(Int32.self, at: 4)
            guard let name = link.string(ifName) else { throw RoutingDumpError("an interface without a name") }
            names.append(name)
            nameOfIndex[index] = name
            if link.header(UInt32.self, at: 8) & 0x1 != 0  /* IFF_UP */ { up.insert(name) }
            // struct rtnl_link_stats64: rx_packets, tx_packets, rx_bytes, tx_bytes, …
            if let stats = link.attribute(linkStats64), stats.count >= 32 {
                counters[name] = InterfaceCounters(index: Int(index), bytes: ByteCounts(receive: stats.load(UInt64.self, at: 16),
                                                                                        transmit: stats.load(UInt64.self, at: 24)))
            }
        }
        var addresses: [String: [String]] = Dictionary(uniqueKeysWithValues: names.map { ($0, []) })
        for address in try socket.dump(type: getAddress, header: [UInt8(AF_INET)] + [UInt8](repeating: 0, count: 7), headerSize: 8) where address.type == newAddress {
            guard let name = nameOfIndex[address.header(Int32.self, at: 4)],
                  let local = address.attribute(addressLocal) ?? address.attribute(addressAddress), local.count == 4 else { continue }
            addresses[name, default: []].append("\(ipv4(local))/\(address.header(UInt8.self, at: 1))")
        }
        let routes = try socket.dump(type: getRoute, header: [UInt8(AF_INET)] + [UInt8](repeating: 0, count: 11), headerSize: 12)
            .filter { $0.type == newRoute }.compactMap { route(in: $0, tables: tables, names: nameOfIndex) }
        let rules = try socket.dump(type: getRule, header: [UInt8(AF_INET)] + [UInt8](repeating: 0, count: 11), headerSize: 12)
            .filter { $0.type == newRule }.compactMap { rule(in: $0, names: nameOfIndex) }
        return RoutingDump(names: names, upInterfaces: up, counters: counters, addresses: addresses, routes: routes, rules: rules)
    }

    /// A default route (`struct rtmsg`: dst_len 0) of one of `tables` that ProxyFarm writes: via a
    /// device with metric 0, or unreachable with the highest metric.
    static func route(in message: Netlink.Message, tables: ClosedRange<Int>, names: [Int32: String]) -> TableRoute? {
        let table = message.attribute(routeTable).map { Int($0.load(UInt32.self, at: 0)) } ?? Int(message.header(UInt8.self, at: 4))
        guard message.header(UInt8.self, at: 1) == 0, tables.contains(table) else { return nil }
        let metric = message.attribute(routePriority).map { $0.load(UInt32.self, at: 0) } ?? 0
        switch message.header(UInt8.self, at: 7) {
        case routeTypeUnicast where metric == 0:
            guard let index = message.attribute(routeOutput), let device = names[index.load(Int32.self, at: 0)] else { return nil }
            let gateway = message.attribute(routeGateway).flatMap { $0.count == 4 ? ipv4($0) : nil }
            return TableRoute(table: table, kind: .defaultVia(interface: device, gateway: gateway))
        case routeTypeUnreachable where metric == UInt32.max:
            return TableRoute(table: table, kind: .unreachableDefault)
        default:
            return nil
        }
    }

    /// A plain lookup (`struct fib_rule_hdr`) with exactly one selector of the kinds ProxyFarm writes
    /// (uidrange, from, oif, or uidrange of one uid with `ipproto tcp sport P`). Duplicates stay
    /// duplicates.
    static func rule(in message: Netlink.Message, names: [Int32: String]) -> RoutingRule? {
        guard message.header(UInt8.self, at: 1) == 0, message.header(UInt8.self, at: 3) == 0,  // dst_len, tos
              message.header(UInt8.self, at: 7) == ruleActionLookup, message.header(UInt32.self, at: 8) & ruleInvert == 0,
              message.attributeTypes.allSatisfy(ruleAttributes.contains),
              message.attribute(ruleSuppressPrefixLength).map({ $0.load(Int32.self, at: 0) == -1 }) ?? true,
              message.attribute(ruleSuppressGroup).map({ $0.load(Int32.self, at: 0) == -1 }) ?? true,
              message.attribute(ruleL3Device).map({ $0.allSatisfy { $0 == 0 } }) ?? true,
              message.attribute(ruleSourcePortMask).map({ $0.load(UInt16.self, at: 0) == 0xffff }) ?? true else { return nil }
        let table = message.attribute(ruleTable).map { Int($0.load(UInt32.self, at: 0)) } ?? Int(message.header(UInt8.self, at: 4))
        guard table != 0 else { return nil }
        let priority = message.attribute(rulePriority).map { Int($0.load(UInt32.self, at: 0)) } ?? 0
        let protocolNumber = message.attribute(ruleIPProtocol).map { $0.load(UInt8.self, at: 0) }
        let sourcePorts = message.attribute(ruleSourcePorts).map { ($0.load(UInt16.self, at: 0), $0.load(UInt16.self, at: 2)) }
        var selectors: [RoutingRule.Selector] = []
        if let uids = message.attribute(ruleUIDRange) {
            let (first, last) = (uids.load(UInt32.self, at: 0), uids.load(UInt32.self, at: 4))
            if protocolNumber == nil, sourcePorts == nil {
                selectors.append(.uidRange(first, last))
            } else if first == last, protocolNumber == UInt8(IPPROTO_TCP), let ports = sourcePorts, ports.0 == ports.1 {
                selectors.append(.uidTCPSourcePort(uid: first, port: Int(ports.0)))
            } else {
                return nil
            }
        } else if protocolNumber != nil || sourcePorts != nil {
            return nil
        }
        let sourceLength = message.header(UInt8.self, at: 2)
        if let source = message.attribute(ruleSource), source.count == 4 {
            selectors.append(.from(sourceLength == 32 ? ipv4(source) : "\(ipv4(source))/\(sourceLength)"))
        } else if sourceLength != 0 {
            return nil
        }
        if let device = message.string(ruleOutputName) { selectors.append(.oif(device)) }
        guard selectors.count == 1, let selector = selectors.first else { return nil }
        return RoutingRule(priority: priority, selector: selector, table: table)
    }

    static func ipv4(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map(String.init).joined(separator: ".")
    }

    // rtnetlink message types (linux/rtnetlink.h): each GET is answered by NEW messages.
    static let getLink: UInt16 = 18, newLink: UInt16 = 16
    static let getAddress: UInt16 = 22, newAddress: UInt16 = 20
    static let getRoute: UInt16 = 26, newRoute: UInt16 = 24
    static let getRule: UInt16 = 34, newRule: UInt16 = 32
    // Attributes: IFLA_*, IFA_*, RTA_*, FRA_*.
    static let ifName: UInt16 = 3, linkStats64: UInt16 = 23
    static let addressAddress: UInt16 = 1, addressLocal: UInt16 = 2
    static let routeOutput: UInt16 = 4, routeGateway: UInt16 = 5, routePriority: UInt16 = 6, routeTable: UInt16 = 15
    static let routeTypeUnicast: UInt8 = 1, routeTypeUnreachable: UInt8 = 7
    static let ruleSource: UInt16 = 2, rulePriority: UInt16 = 6, ruleSuppressGroup: UInt16 = 13, ruleSuppressPrefixLength: UInt16 = 14
    static let ruleTable: UInt16 = 15, ruleOutputName: UInt16 = 17, rulePad: UInt16 = 18, ruleL3Device: UInt16 = 19
    static let ruleUIDRange: UInt16 = 20, ruleProtocol: UInt16 = 21, ruleIPProtocol: UInt16 = 22, ruleSourcePorts: UInt16 = 23
    /// FRA_SPORT_MASK (Linux 6.15+): sent with every port range, all ones unless a mask was given.
    static let ruleSourcePortMask: UInt16 = 28
    /// The attributes a rule of ours may carry (some only with their "not set" value); any other
    /// (FRA_DST, FRA_IIFNAME, FRA_GOTO, FRA_FWMARK, FRA_FWMASK, FRA_FLOW, FRA_TUN_ID,
    /// FRA_DPORT_RANGE, FRA_DSCP, FRA_FLOWLABEL, …) makes it someone else's.
    static let ruleAttributes: Set<UInt16> = [ruleSource, rulePriority, ruleSuppressGroup, ruleSuppressPrefixLength, ruleTable,
                                              ruleOutputName, rulePad, ruleL3Device, ruleUIDRange, ruleProtocol, ruleIPProtocol, ruleSourcePorts,
                                              ruleSourcePortMask]
    static let ruleActionLookup: UInt8 = 1  // FR_ACT_TO_TBL
    static let ruleInvert: UInt32 = 0x2  // FIB_RULE_INVERT: `not`
}

struct RoutingDumpError: Error {
    var detail: String
    init(_ detail: String) { self.detail = detail }
}

/// A netlink socket of one protocol, for dumps.
struct Netlink: ~Copyable {
    /// One message of a dump: its type, its family-specific header, and its attributes (read once).
    struct Message {
        var type: UInt16
        var header: ArraySlice<UInt8>
        var attributes: [(type: UInt16, value: ArraySlice<UInt8>)]

        /// `body` is everything after the netlink header; `headerSize` the family header's size.
        init(type: UInt16, body: ArraySlice<UInt8>, headerSize: Int) {
            self.type = type
            header = body.prefix(headerSize)
            attributes = []
            var offset = body.startIndex + headerSize
            while offset + 4 <= body.endIndex {
                let length = Int(body.load(UInt16.self, at: offset - body.startIndex))
                guard length >= 4, offset + length <= body.endIndex else { break }
                attributes.append((body.load(UInt16.self, at: offset - body.startIndex + 2) & 0x3fff, body[(offset + 4)..<(offset + length)]))
                offset += (length + 3) & ~3
            }
        }

        func header<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
            header.load(T.self, at: offset)
        }

        var attributeTypes: [UInt16] { attributes.map(\.type) }

        func attribute(_ type: UInt16) -> ArraySlice<UInt8>? { attributes.last { $0.type == type }?.value }

        /// A NUL-terminated string attribute.
        func string(_ type: UInt16) -> String? {
            attribute(type).map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
    }

    private let descriptor: Int32

    init?(protocol number: Int32) {
        descriptor = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), number)
        guard descriptor >= 0 else { return nil }
    }

    deinit { close(descriptor) }

    /// Sends one dump request (`header`: the family-specific request header) and collects every
    /// message up to the dump's end; `headerSize` is the size of the answers' fixed header.
    func dump(type: UInt16, header: [UInt8], headerSize: Int) throws(RoutingDumpError) -> [Message] {
        try Self.untilComplete(type: type) { attempt throws(RoutingDumpError) in
            try dumpOnce(type: type, header: header, headerSize: headerSize, sequence: UInt32(attempt) << 16 | UInt32(type))
        }
    }

    /// A dump the kernel marks interrupted (the tables changed under it) is asked again, as netlink
    /// says to, at most three times; `once` takes the attempt's number (1…3).
    static func untilComplete(type: UInt16, _ once: (Int) throws(RoutingDumpError) -> DumpReader.Dump) throws(RoutingDumpError) -> [Message] {
        for attempt in 1...3 {
            let dump = try once(attempt)
            if !dump.interrupted { return dump.messages }
        }
        throw RoutingDumpError("netlink dump \(type): interrupted three times (the kernel's tables kept changing)")
    }

    private func dumpOnce(type: UInt16, header: [UInt8], headerSize: Int, sequence: UInt32) throws(RoutingDumpError) -> DumpReader.Dump {
        var request = [UInt8](repeating: 0, count: 16) + header
        request.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt32(raw.count), toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: type, toByteOffset: 4, as: UInt16.self)
            raw.storeBytes(of: UInt16(0x301), toByteOffset: 6, as: UInt16.self)  // NLM_F_REQUEST | NLM_F_DUMP
            raw.storeBytes(of: sequence, toByteOffset: 8, as: UInt32.self)
        }
        guard request.withUnsafeBytes({ send(descriptor, $0.baseAddress, $0.count, 0) }) == request.count else {
            throw RoutingDumpError("netlink request \(type): " + String(cString: strerror(errno)))
        }
        var reader = DumpReader(type: type, sequence: sequence, headerSize: headerSize)
        while true {
            // The kernel fills at most 32 KiB per read of a dump. A fresh buffer per read: the
            // messages keep slices of it.
            var buffer = [UInt8](repeating: 0, count: 65536)
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw RoutingDumpError("netlink dump \(type): " + String(cString: strerror(errno))) }
            if let dump = try reader.read(buffer[..<count]) { return dump }
        }
    }

    /// Collects the answers to one dump request from what each read of the socket returned.
    struct DumpReader {
        /// A whole dump: its messages, and whether the kernel marked it interrupted.
        struct Dump {
            var messages: [Message]
            var interrupted: Bool
        }

        let type: UInt16
        let sequence: UInt32
        let headerSize: Int
        private var dump = Dump(messages: [], interrupted: false)

        init(type: UInt16, sequence: UInt32, headerSize: Int) {
            self.type = type
            self.sequence = sequence
            self.headerSize = headerSize
        }

        /// Takes one read's messages (those of other requests are skipped); the dump once its end came.
        mutating func read(_ chunk: ArraySlice<UInt8>) throws(RoutingDumpError) -> Dump? {
            var offset = 0
            while offset + 16 <= chunk.count {
                let length = Int(chunk.load(UInt32.self, at: offset))
                guard length >= 16, offset + length <= chunk.count else { throw RoutingDumpError("netlink dump \(type): a cut message") }
                if chunk.load(UInt32.self, at: offset + 8) == sequence {
                    if chunk.load(UInt16.self, at: offset + 6) & 0x10 != 0 { dump.interrupted = true }  // NLM_F_DUMP_INTR
                    switch chunk.load(UInt16.self, at: offset + 4) {
                    case 3:  // NLMSG_DONE
                        return dump
                    case 2:  // NLMSG_ERROR: a negative errno after the header
                        throw RoutingDumpError("netlink dump \(type): " + String(cString: strerror(-chunk.load(Int32.self, at: offset + 16))))
                    case let kind:
                        guard length - 16 >= headerSize else { throw RoutingDumpError("netlink dump \(type): a short message") }
                        let start = chunk.startIndex + offset
                        dump.messages.append(Message(type: kind, body: chunk[(start + 16)..<(start + length)], headerSize: headerSize))
                    }
                }
                offset += (length + 3) & ~3
            }
            return nil
        }
    }
}

extension Collection<UInt8> where Index == Int {
    /// The host-order (little-endian) integer at `offset` from the start; 0 past the end.
    func load<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        let start = startIndex + offset
        guard offset >= 0, start + MemoryLayout<T>.size <= endIndex else { return 0 }
        var value: T = 0
        var index = start + MemoryLayout<T>.size
        while index > start {
            index -= 1
            value = value << 8 | T(truncatingIfNeeded: self[index])
        }
        return value
    }
}
