import Drivers
import Reconciler
import Testing

@Suite struct StreamWakeSourceTests {
    @Test func triggersBecomeWakeUpsUntilStopped() async throws {
        let (triggers, input) = AsyncStream.makeStream(of: Void.self)
        let producerEnded = StreamLog(AsyncStream<Void> { continuation in
            input.onTermination = { _ in continuation.finish() }
        })
        let source = StreamWakeSource(triggers, reason: .hotplug)
        let log = StreamLog(source.wakeups)

        input.yield()
        #expect(await log.wait { $0.elements == [.hotplug] })
        source.stop()

        #expect(await log.wait { $0.finished })
        #expect(await producerEnded.wait { $0.finished }, "the trigger stream's producer learns that nobody listens any more")
    }
}
