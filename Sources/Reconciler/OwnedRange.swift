import Spec

/// What ProxyFarm owns in the kernel: routing tables and rule priorities `tableBase ..< tableBase + 1000`
/// (modem k ≥ 1 uses `tableBase + k` for both; priority `tableBase` holds the proxies' reply rules).
/// Rules and routes outside this range are never touched; the farm.yaml validator checks that the
/// modems' tables stay clear of the kernel's own tables (0, 253–255).
public enum OwnedRange {
    /// How many lane indices one farm has; index 0 is no modem's (`repliesPriority`).
    public static let size = 1000

    /// The lane indices modems get.
    public static let modemIndices = RoutingSettings.firstModemIndex..<size

    /// The priority of every `uidrange U-U ipproto tcp sport P lookup main` rule: below every
    /// modem's priority, so the proxies' replies to their clients are routed by the main table before
    /// a modem's `uidrange U-U lookup T` can send them out of the modem (docs/routing.md).
    public static func repliesPriority(base: Int) -> Int { base }

    public static func tables(base: Int) -> ClosedRange<Int> { base...(base + size - 1) }

    /// The uids of every lane a farm can have (`uidBase + k`): the egress guard refuses the packets
    /// of any of them that has no lane of its own.
    public static func uids(base: Int) -> ClosedRange<UInt32> {
        UInt32(clamping: base + modemIndices.lowerBound)...UInt32(clamping: base + modemIndices.upperBound - 1)
    }

    /// The kernel's own tables (unspec, default, main, local). The default range 100–1099 spans
    /// 253–255, so no lane is ever given one and nothing in them is ever removed.
    public static let kernelTables: Set<Int> = [0, 253, 254, 255]
}
