import Drivers
import Reconciler
import Testing

@Suite struct StreamWakeSourceTests {

    @Test func triggersBecomeWakeUpsUntilStopped() async throws {
        let (triggers, input) = AsyncStream.makeStream(of: Void.self)
        let producerEnded = StreamLog(AsyncStream<Void> { continuation in
            input.onTermination = { _ in continuation.finish() }
        })
        let ends = Counter()
        let source = StreamWakeSource(triggers, reason: .hotplug) { ends.next() }
        let log = StreamLog(source.wakeups)

        input.yield()
        #expect(await log.wait { $0.elements == [.hotplug] })
        source.stop()

        #expect(await log.wait { $0.finished })
        #expect(await producerEnded.wait { $0.finished }, "the trigger stream's producer learns that nobody listens any more")
        #expect(ends.count == 0, "stopped by the daemon: not a lost source")
    }

    @Test func aTriggerStreamThatEndsByItselfIsTold() async throws {
        let (triggers, input) = AsyncStream.makeStream(of: Void.self)
        let ends = Counter()
        let source = StreamWakeSource(triggers, reason: .hotplug) { ends.next() }
        let log = StreamLog(source.wakeups)
        input.yield()
        input.finish()
        #expect(await log.wait { $0.finished && $0.elements == [.hotplug] })
        #expect(ends.count == 1)
    }
}
