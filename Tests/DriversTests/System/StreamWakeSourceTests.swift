import Drivers
import Reconciler
import Synchronization
import Testing

@Suite struct StreamWakeSourceTests {
    /// How often a source said it ended by itself.
    final class Tally: Sendable { let count = Atomic(0) }

    @Test func triggersBecomeWakeUpsUntilStopped() async throws {
        let (triggers, input) = AsyncStream.makeStream(of: Void.self)
        let producerEnded = StreamLog(AsyncStream<Void> { continuation in
            input.onTermination = { _ in continuation.finish() }
        })
        let ends = Tally()
        let source = StreamWakeSource(triggers, reason: .hotplug) { ends.count.add(1, ordering: .relaxed) }
        let log = StreamLog(source.wakeups)

        input.yield()
        #expect(await log.wait { $0.elements == [.hotplug] })
        source.stop()

        #expect(await log.wait { $0.finished })
        #expect(await producerEnded.wait { $0.finished }, "the trigger stream's producer learns that nobody listens any more")
        #expect(ends.count.load(ordering: .relaxed) == 0, "stopped by the daemon: not a lost source")
    }

    @Test func aTriggerStreamThatEndsByItselfIsTold() async throws {
        let (triggers, input) = AsyncStream.makeStream(of: Void.self)
        let ends = Tally()
        let source = StreamWakeSource(triggers, reason: .hotplug) { ends.count.add(1, ordering: .relaxed) }
        let log = StreamLog(source.wakeups)
        input.yield()
        input.finish()
        #expect(await log.wait { $0.finished && $0.elements == [.hotplug] })
        #expect(ends.count.load(ordering: .relaxed) == 1)
    }
}
