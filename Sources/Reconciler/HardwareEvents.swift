/// Tells the loop that the hardware may have changed (a modem plugged, unplugged, or one of its
/// ports appearing). A wake-up is only a trigger: the loop re-reads the inventory, it never trusts
/// what an event said. Bursts arrive coalesced, so 30 modems powering up cost one or a few passes.
public protocol HardwareEvents: Sendable {
    /// Starts watching; the stream ends when the consumer stops iterating it (or the watch fails).
    /// Events that happen after this returns are not lost.
    func wakeUps() throws -> AsyncStream<Void>
}
