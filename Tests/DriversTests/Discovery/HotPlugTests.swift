import Reconciler
import Testing

/// `UDevMonitor` inside a live umockdev testbed: devices are plugged and pulled while the probe
/// watches, and each wake-up is followed by a fresh enumeration.
@Suite(.enabled(if: UMockdevLab.runnable, "umockdev or python3-gi is missing; CI (CI=true) fails instead of skipping"))
struct HotPlugTests {
    static let quietPeriod = Duration.milliseconds(500)

    @Test("plugging wakes the monitor, and so does pulling a modem and its interface appearing late")
    func plugAndPull() async throws {
        let testbed = try await LiveTestbed()
        defer { testbed.close() }
        let probe = try await testbed.watch(quietPeriod: Self.quietPeriod)
        defer { probe.stop() }

        try await testbed.plug("two-ec25-on-hub")
        let plugged = try await probe.waitForWakeUp("two modems") { $0.count == 2 }
        #expect(plugged == ModemInventoryTests.twoOnHub)

        try await testbed.unplug(ModemInventoryTests.twoOnHub[1].usbPath)
        let pulled = try await probe.waitForWakeUp("one modem left") { $0.count == 1 }
        #expect(pulled == [ModemInventoryTests.twoOnHub[0]])

        try await testbed.plug("no-net-interface-yet")
        let late = try await probe.waitForWakeUp("modem on 1-5") { $0.contains { $0.portPath == "1-5" } }
        #expect(late.last == ModemInventoryTests.interfaceNotYet)

        try await testbed.plug("late-wwan5")
        let appeared = try await probe.waitForWakeUp("wwan5") { $0.last?.interface == "wwan5" }
        var expected = ModemInventoryTests.interfaceNotYet
        expected.interface = "wwan5"
        expected.supportsRawIP = true
        #expect(appeared == [ModemInventoryTests.twoOnHub[0], expected])
        #expect(try probe.wakeUps().count <= 8, "each of the four changes should cost one or two wake-ups")
    }

    @Test("ten modems powering up at once (162 uevents) coalesce into one or a few wake-ups")
    func burstCoalesces() async throws {
        let testbed = try await LiveTestbed()
        defer { testbed.close() }
        let probe = try await testbed.watch(quietPeriod: Self.quietPeriod)
        defer { probe.stop() }

        try await testbed.plug("ten-ec25-burst")
        let modems = try await probe.waitForWakeUp("ten modems") { $0.count == 10 }
        #expect(modems.map(\.portPath) == (1...10).map { "3-1.\($0)" })
        #expect(modems.map(\.controlDevice) == (11...20).map { "/dev/cdc-wdm\($0)" })
        // A straggling wake-up would come within one more quiet period.
        try await Task.sleep(for: Self.quietPeriod * 3)
        let wakeUps = try probe.wakeUps().count
        #expect((1...3).contains(wakeUps), "\(wakeUps) wake-ups for one burst")
    }
}
