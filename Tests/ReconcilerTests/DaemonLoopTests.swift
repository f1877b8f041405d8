import Foundation
import Reconciler
import Synchronization
import Testing

@Suite struct DaemonLoopTests {
    static let fast = DaemonLoop.Configuration(periodicPass: .seconds(60), tick: .milliseconds(10))

    @Test func firstPassAtStartThenReadyAndStopEndsTheLoop() async throws {
        let harness = LoopHarness()
        let loop = Task { await harness.run(Self.fast) }

        #expect(await eventually { harness.passes.elements == [[.startup]] })
        #expect(await eventually { harness.notices.elements == ["READY 1 passes"] })
        harness.stop()
        await loop.value

        #expect(harness.notices.elements == ["READY 1 passes", "STOPPING"])
    }

    @Test func aWakeUpRunsAPassWithItsReason() async throws {
        let harness = LoopHarness()
        let loop = Task { await harness.run(Self.fast) }
        #expect(await eventually { harness.passes.elements.count == 1 })

        harness.source.fire(.specChanged)

        #expect(await eventually { harness.passes.elements == [[.startup], [.specChanged]] })
        #expect(await eventually { harness.notices.elements.last == "STATUS 2 passes" })
        harness.stop()
        await loop.value
    }

    @Test func wakeUpsDuringAPassAreCoalescedIntoTheNextOne() async throws {
        let harness = LoopHarness()
        harness.gate.close()
        let loop = Task { await harness.run(Self.fast) }
        #expect(await eventually { harness.passes.elements.count == 1 })

        harness.source.fire(.specChanged)
        harness.source.fire(.requestFiled)
        harness.source.fire(.specChanged)
        try await Task.sleep(for: .milliseconds(50))
        harness.gate.open()

        #expect(await eventually { harness.passes.elements == [[.startup], [.specChanged, .requestFiled]] })
        try await Task.sleep(for: .milliseconds(50))
        #expect(harness.passes.elements.count == 2)
        harness.stop()
        await loop.value
    }

    /// With a tick of an hour, only the loop's own deadline can bring these passes.
    @Test func periodicAndRequestedPassesComeOnTheirOwn() async throws {
        let harness = LoopHarness(wakeWithin: .milliseconds(40))
        let loop = Task { await harness.run(DaemonLoop.Configuration(periodicPass: .seconds(60), tick: .seconds(3600))) }

        #expect(await eventually { harness.passes.elements.count >= 3 })
        #expect(harness.passes.elements.dropFirst().allSatisfy { $0 == [.timer] })
        harness.stop()
        await loop.value

        let periodic = LoopHarness()
        let periodicLoop = Task { await periodic.run(DaemonLoop.Configuration(periodicPass: .milliseconds(40), tick: .seconds(3600))) }
        #expect(await eventually { periodic.passes.elements.count >= 3 })
        periodic.stop()
        await periodicLoop.value
    }

    @Test func stopDuringAPassCancelsItAndWaitsForIt() async throws {
        let harness = LoopHarness()
        harness.gate.close()
        let loop = Task { await harness.run(Self.fast) }
        #expect(await eventually { harness.passes.elements.count == 1 })

        harness.stop()
        await loop.value

        #expect(harness.cancelledPasses.elements == [1])
        #expect(harness.notices.elements == ["STOPPING"], "no READY for a pass cut short by the stop")
    }

    @Test func watchdogIsFedWhileIdleAndByHeartbeatsButNotByAHungPass() async throws {
        let harness = LoopHarness(watchdog: .milliseconds(30))
        let loop = Task { await harness.run(Self.fast) }
        #expect(await eventually { harness.notices.elements.filter { $0 == "WATCHDOG" }.count >= 3 })

        harness.gate.close()
        harness.source.fire(.hotplug)
        #expect(await eventually { harness.passes.elements.count == 2 })
        let before = harness.notices.elements.count
        try await Task.sleep(for: .milliseconds(150))
        #expect(harness.notices.elements.count == before, "a pass that makes no progress must not feed the watchdog")

        harness.heartbeats.withLock { $0 = true }
        #expect(await eventually { harness.notices.elements.count > before })
        #expect(harness.notices.elements.dropFirst(before).allSatisfy { $0 == "WATCHDOG" })
        harness.gate.open()
        harness.stop()
        await loop.value
    }
}

/// A wake source the test fires by hand.
private final class ManualWakeSource: WakeSource {
    let wakeups: AsyncStream<WakeReason>
    private let input: AsyncStream<WakeReason>.Continuation
    init() { (wakeups, input) = AsyncStream.makeStream(of: WakeReason.self) }
    func fire(_ reason: WakeReason) { input.yield(reason) }
    func stop() { input.finish() }
}

private final class RecordingNotifier: DaemonNotifier {
    let watchdogInterval: Duration?
    let log: Recorder<String>
    init(watchdogInterval: Duration?, log: Recorder<String>) {
        self.watchdogInterval = watchdogInterval
        self.log = log
    }
    func ready(status: String) { log.append("READY \(status)") }
    func status(_ line: String) { log.append("STATUS \(line)") }
    func watchdog() { log.append("WATCHDOG") }
    func stopping() { log.append("STOPPING") }
}

private final class Recorder<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])
    func append(_ item: Element) { items.withLock { $0.append(item) } }
    var elements: [Element] { items.withLock { $0 } }
}

/// Holds passes while closed; a closed gate is how a test makes a pass "long".
private final class Gate: Sendable {
    private let closed = Mutex(false)
    func close() { closed.withLock { $0 = true } }
    func open() { closed.withLock { $0 = false } }
    var isClosed: Bool { closed.withLock { $0 } }
}

private final class LoopHarness: Sendable {
    let source = ManualWakeSource()
    let passes = Recorder<Set<WakeReason>>()
    let notices = Recorder<String>()
    let cancelledPasses = Recorder<Int>()
    let gate = Gate()
    /// Whether a held pass reports progress.
    let heartbeats = Mutex(false)
    let wakeWithin: Duration?
    let watchdog: Duration?
    private let stops: AsyncStream<Void>
    private let stopInput: AsyncStream<Void>.Continuation

    init(wakeWithin: Duration? = nil, watchdog: Duration? = nil) {
        self.wakeWithin = wakeWithin
        self.watchdog = watchdog
        (stops, stopInput) = AsyncStream.makeStream(of: Void.self)
    }

    func stop() { stopInput.yield() }

    func run(_ configuration: DaemonLoop.Configuration) async {
        let loop = DaemonLoop(configuration: configuration, notifier: RecordingNotifier(watchdogInterval: watchdog, log: notices))
        await loop.run(wakeSources: [source], stops: stops) { [self] reasons, heartbeat in
            passes.append(reasons)
            let number = passes.elements.count
            while gate.isClosed {
                if Task.isCancelled {
                    cancelledPasses.append(number)
                    break
                }
                if heartbeats.withLock({ $0 }) { heartbeat() }
                try? await Task.sleep(for: .milliseconds(5))
            }
            return PassReport(summary: "\(number) passes", wakeWithin: wakeWithin)
        }
    }
}

/// Polls every 5 ms for up to 3 s.
private func eventually(_ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(3)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}
