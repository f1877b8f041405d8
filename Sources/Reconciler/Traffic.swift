/// The kernel's byte counters of one network interface (`ip -s link`: stats64). They start at
/// zero when the interface is created, so `index` (the ifindex) tells one incarnation of a
/// modem's interface (after a replug or a USB re-enumeration) from the next.
public struct InterfaceCounters: Sendable, Equatable, Codable {
    public var index: Int
    public var bytes: ByteCounts
    public init(index: Int, bytes: ByteCounts) {
        self.index = index
        self.bytes = bytes
    }
}

/// Bytes received and transmitted; `receive` is what came in from the mobile network (what the
/// proxy's customers download), `transmit` what went out.
public struct ByteCounts: Sendable, Equatable, Codable {
    public var receive: UInt64
    public var transmit: UInt64
    public init(receive: UInt64, transmit: UInt64) {
        self.receive = receive
        self.transmit = transmit
    }

    public static let zero = ByteCounts(receive: 0, transmit: 0)

    /// Whether these counts moved far enough from `written` to be worth writing a file for: by
    /// 1 MiB or 1 % of what was written, whichever is more, in either direction. A health probe's
    /// few hundred bytes are not; a customer's download is, within one pass.
    public func worthWriting(over written: ByteCounts?) -> Bool {
        guard let written else { return true }
        func moved(_ now: UInt64, _ then: UInt64) -> Bool {
            let distance = now >= then ? now - then : then - now
            return distance >= max(1 << 20, then / 100)
        }
        return moved(receive, written.receive) || moved(transmit, written.transmit)
    }
}

/// What a modem's interface carried, summed over every incarnation of the interface since
/// ProxyFarm first saw the modem (ModemMemory.traffic): it survives rotations (the interface
/// stays), replugs and counter resets (counted from zero again), and reconciler restarts (the
/// last counters are remembered with the totals, so the bytes moved while no reconciler ran are
/// counted at the next look).
public struct Traffic: Sendable, Equatable, Codable {
    public var total: ByteCounts
    /// The counters at the last look: the next look counts from here.
    public var lastCounters: InterfaceCounters

    /// Starts counting at `counters`: what the interface carried before is not the farm's to count.
    public init(startingAt counters: InterfaceCounters) {
        total = .zero
        lastCounters = counters
    }

    /// Adds what the interface carried since the last look. Counters of another incarnation, or
    /// lower than before (a reset), count from zero.
    public func counting(_ counters: InterfaceCounters) -> Traffic {
        let last = lastCounters
        let continued = last.index == counters.index && counters.bytes.receive >= last.bytes.receive
            && counters.bytes.transmit >= last.bytes.transmit
        let base = continued ? last.bytes : .zero
        var next = self
        next.total.receive &+= counters.bytes.receive - base.receive
        next.total.transmit &+= counters.bytes.transmit - base.transmit
        next.lastCounters = counters
        return next
    }
}
