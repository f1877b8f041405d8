import Spec

/// Sticky per-modem resources (state/allocations.json), keyed by modem serial: the lane index k ≥ 1
/// (table/priority `tableBase + k`, uid `uidBase + k`) and the ports allocated from the range.
/// An allocation lives exactly as long as its modem is in farm.yaml, so nothing is ever reused by
/// another modem while its owner is still listed; a removed modem's allocation is freed.
public struct Allocations: Sendable, Equatable, Codable {
    public struct Entry: Sendable, Equatable, Codable {
        /// The modem's name when last seen: lets cleanup find its proxy and status file.
        public var name: String
        public var index: Int
        public var httpPort: Int?
        public var socksPort: Int?
        /// Each proxy user's counter slot (CounterSlot): kept while the user stays on the modem,
        /// never given to another user, so no one inherits someone else's counts.
        public var counters: [String: Int]?
        /// The next slot to give; slots only grow (24 bytes × 3 in the counter file each).
        public var nextCounter: Int?
        public init(name: String, index: Int, httpPort: Int? = nil, socksPort: Int? = nil,
                    counters: [String: Int]? = nil, nextCounter: Int? = nil) {
            self.name = name
            self.index = index
            self.httpPort = httpPort
            self.socksPort = socksPort
            self.counters = counters
            self.nextCounter = nextCounter
        }
    }

    public var version: Int = 1
    public var modems: [String: Entry]

    public init(modems: [String: Entry] = [:]) { self.modems = modems }
}

/// Why a modem could not get its resources.
public struct AllocationFailure: Error, Sendable, Equatable {
    public var message: String
}

extension Allocations {
    /// The allocations for `spec`, keeping every earlier one whose modem is still listed.
    /// Explicit ports win: an allocated port that a modem now names explicitly moves its holder.
    public func updated(for spec: FarmSpec) -> (Allocations, failures: [String: AllocationFailure]) {
        let listed = Set(spec.modems.map(\.serial))
        // An index no modem may have (from before index 0 was reserved) is given up for a new one.
        var kept = modems.filter { listed.contains($0.key) }.mapValues { entry in
            var entry = entry
            if !OwnedRange.modemIndices.contains(entry.index) { entry.index = -1 }
            return entry
        }
        var failures: [String: AllocationFailure] = [:]
        let explicit = Set(spec.modems.flatMap { [$0.ports.http, $0.ports.socks].compactMap { $0 } })
        var usedIndices = Set(kept.values.map(\.index))
        let kernelIndices = OwnedRange.kernelTables.map { $0 - spec.routing.tableBase }
        usedIndices.formUnion(kernelIndices)
        var usedPorts = explicit
        for modem in spec.modems {
            guard var entry = kept[modem.serial] else { continue }
            entry.name = modem.name
            entry.httpPort = Self.keep(entry.httpPort, wanted: modem.ports.http, used: &usedPorts, explicit: explicit)
            entry.socksPort = Self.keep(entry.socksPort, wanted: modem.ports.socks, used: &usedPorts, explicit: explicit)
            kept[modem.serial] = entry
        }
        for modem in spec.modems {
            var entry = kept[modem.serial] ?? Entry(name: modem.name, index: -1)
            if entry.index < 0 {
                guard let index = OwnedRange.modemIndices.first(where: { !usedIndices.contains($0) }) else {
                    failures[modem.name] = AllocationFailure(message: "no free lane: all \(OwnedRange.modemIndices.count) tables after tableBase are taken (the kernel's 253–255 never count)")
                    continue
                }
                entry.index = index
                usedIndices.insert(index)
            }
            for (explicitPort, isHTTP) in [(modem.ports.http, true), (modem.ports.socks, false)] where explicitPort == nil {
                guard (isHTTP ? entry.httpPort : entry.socksPort) == nil else { continue }
                guard let port = spec.portRange.first(where: { !usedPorts.contains($0) }) else {
                    failures[modem.name] = AllocationFailure(message: "no free port left in range \(spec.portRange.lowerBound)-\(spec.portRange.upperBound)")
                    continue
                }
                usedPorts.insert(port)
                if isHTTP { entry.httpPort = port } else { entry.socksPort = port }
            }
            entry.giveCounters(to: modem.proxy.users)
            kept[modem.serial] = entry
        }
        return (Allocations(modems: kept), failures)
    }

    /// Keeps an allocated port unless the modem now names its own or someone else named it.
    private static func keep(_ allocated: Int?, wanted: Int?, used: inout Set<Int>, explicit: Set<Int>) -> Int? {
        guard wanted == nil, let allocated, !explicit.contains(allocated), !used.contains(allocated) else { return nil }
        used.insert(allocated)
        return allocated
    }
}

extension Allocations.Entry {
    /// Keeps the slots of `users`, frees the others' and gives new users the next ones, in name order.
    mutating func giveCounters(to users: [String]) {
        var slots = (counters ?? [:]).filter { users.contains($0.key) }
        var next = nextCounter ?? 0
        for user in users.sorted() where slots[user] == nil {
            slots[user] = next
            next += 1
        }
        counters = slots.isEmpty ? nil : slots
        nextCounter = next == 0 ? nil : next
    }
}
