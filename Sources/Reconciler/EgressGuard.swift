/// The egress guard (DESIGN §7, docs/routing.md): ProxyFarm's one nftables table, which lets the
/// packets of a lane's uid leave only through the lane's interface, plus the replies of its proxy
/// ports to clients. It judges the interface routing chose, so no rule or route that is missing,
/// wrong or being changed can turn into a leak: at worst a connection is refused.

/// One lane of the guard: what uid `uid` may send.
public struct GuardLane: Sendable, Hashable, Codable, CustomStringConvertible {
    public var uid: UInt32
    /// The only interface the uid's packets may leave by; nil while the modem has none (not
    /// plugged in): then nothing but the replies leaves.
    public var interface: String?
    /// The proxy's listening ports: its TCP replies to clients (`tcp sport P`) may leave by any
    /// interface, as the reply rules route them (sorted, no duplicates).
    public var replyPorts: [Int]

    public init(uid: UInt32, interface: String?, replyPorts: [Int]) {
        self.uid = uid
        self.interface = interface
        self.replyPorts = Array(Set(replyPorts)).sorted()
    }

    public var description: String {
        let out = interface.map { "out only via \($0)" } ?? "nothing out (no interface)"
        let replies = replyPorts.isEmpty ? "" : ", replies from " + replyPorts.map(String.init).joined(separator: ", ")
        return "guard uid \(uid): \(out)\(replies)"
    }
}

/// What the kernel shows of the guard table.
public struct GuardState: Sendable, Equatable, Codable {
    /// Lanes exactly as ProxyFarm writes them, by uid. A lane that was changed by hand into
    /// something else is not listed (it will be rewritten).
    public var lanes: [UInt32: GuardLane]
    /// The uids refused outright after the lanes (ProxyFarm's uid range): a uid whose lane is gone
    /// (a removed modem's proxy still stopping) is refused instead of let out.
    public var fence: ClosedRange<UInt32>?
    /// Packets each lane refused since its chain was last written, by uid (a metric).
    public var refusedPackets: [UInt32: Int]
    /// Why the table could not be read (nftables missing, no permission); nil when it was read.
    /// An unreadable guard counts as absent: nothing is trusted to be in place.
    public var unreadable: String?

    public init(lanes: [UInt32: GuardLane] = [:], fence: ClosedRange<UInt32>? = nil, refusedPackets: [UInt32: Int] = [:],
                unreadable: String? = nil) {
        self.lanes = lanes
        self.fence = fence
        self.refusedPackets = refusedPackets
        self.unreadable = unreadable
    }

    /// The same guard with `change` applied (for drivers that rewrite the whole table).
    public func applying(_ change: NetworkChange) -> GuardState {
        var next = self
        switch change {
        case .setGuardLane(let lane): next.lanes[lane.uid] = lane
        case .removeGuardLane(let uid): next.lanes[uid] = nil
        case .setGuardFence(let fence): next.fence = fence
        default: break
        }
        return next
    }
}
