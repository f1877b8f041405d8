/// What ProxyFarm owns in the kernel: routing tables and rule priorities `tableBase ..< tableBase + 1000`
/// (modem k uses `tableBase + k` for both). Rules and routes outside this range are never touched;
/// the farm.yaml validator checks that the range stays clear of the kernel's own tables (0, 253–255).
public enum OwnedRange {
    /// How many modems (lanes) one farm can hold.
    public static let size = 1000

    public static func tables(base: Int) -> ClosedRange<Int> { base...(base + size - 1) }

    /// The kernel's own tables (unspec, default, main, local). The default range 100–1099 spans
    /// 253–255, so no lane is ever given one and nothing in them is ever removed.
    public static let kernelTables: Set<Int> = [0, 253, 254, 255]
}
