import Reconciler

/// Turns a plain stream of triggers (such as the udev monitor's hot-plug wake-ups) into a wake
/// source of the daemon loop with the given reason. A trigger stream that ends by itself (the
/// monitor's socket failed) is told to `whenEnded`, so the daemon can say it lost the source
/// instead of going on without it in silence.
public final class StreamWakeSource: WakeSource {
    public let wakeups: AsyncStream<WakeReason>
    private let forwarding: Task<Void, Never>

    public init(_ triggers: AsyncStream<Void>, reason: WakeReason, whenEnded: @escaping @Sendable () -> Void = {}) {
        let (wakeups, input) = AsyncStream.makeStream(of: WakeReason.self, bufferingPolicy: .bufferingNewest(1))
        self.wakeups = wakeups
        forwarding = Task {
            for await _ in triggers { input.yield(reason) }
            if !Task.isCancelled { whenEnded() }
            input.finish()
        }
    }

    /// Stops forwarding; cancelling the iteration also ends the trigger stream's producer.
    public func stop() {
        forwarding.cancel()
    }

    deinit {
        forwarding.cancel()
    }
}
