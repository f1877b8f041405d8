import Spec

/// The gateway's sticky entry ports, by modem serial (kept in the gateway's state): a modem keeps
/// its entry ports while farm.yaml lists it, whichever host carries it.
public struct EntryAllocations: Codable, Sendable, Equatable {
    public struct Ports: Codable, Sendable, Equatable {
        public var http: Int
        public var socks: Int
        public init(http: Int, socks: Int) {
            self.http = http
            self.socks = socks
        }
    }

    public var modems: [String: Ports]

    public init(modems: [String: Ports] = [:]) { self.modems = modems }

    /// Pinned ports (`modems[].entry`) win; a modem keeps an earlier port that is still inside
    /// `gateway.ports` and nobody pinned; the rest get the lowest free ports, in file order.
    /// Modems no longer listed give their ports back. Nil when the range runs out (validate
    /// rules that out for a valid farm) or the farm has no gateway.
    public static func allocate(_ spec: FarmSpec, previous: EntryAllocations) -> EntryAllocations? {
        guard let range = spec.gateway?.ports else { return nil }
        var taken = Set(spec.modems.flatMap { [$0.entry.http, $0.entry.socks].compactMap { $0 } })
        var kept: [String: (http: Int?, socks: Int?)] = [:]
        for modem in spec.modems {
            let earlier = previous.modems[modem.serial]
            func keep(_ pinned: Int?, _ old: Int?) -> Int? {
                if let pinned { return pinned }
                guard let old, range.contains(old), !taken.contains(old) else { return nil }
                taken.insert(old)
                return old
            }
            kept[modem.serial] = (keep(modem.entry.http, earlier?.http), keep(modem.entry.socks, earlier?.socks))
        }
        var free = range.lazy.filter { !taken.contains($0) }.makeIterator()
        var result = EntryAllocations()
        for modem in spec.modems {
            guard let own = kept[modem.serial], let http = own.http ?? free.next(), let socks = own.socks ?? free.next() else { return nil }
            result.modems[modem.serial] = Ports(http: http, socks: socks)
        }
        return result
    }
}
