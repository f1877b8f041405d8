import Testing
@testable import Drivers

/// The inventory keeps a scan only while a udev monitor watches: without one (none could be
/// opened, or it stopped) every look scans again, so a plugged modem is never hidden by an old scan.
@Suite struct UDevChangesTests {
    @Test func aScanIsKeptOnlyWhileAMonitorWatches() async throws {
        let changes = UDevChanges()
        #expect(changes.generation == nil, "no monitor yet: nothing is known")
        let wakeUps = try UDevMonitor(changes: changes).wakeUps()
        #expect(changes.generation == 0, "watching from the moment the monitor subscribed")
        changes.noteEvents()
        #expect(changes.generation == 1)

        // The daemon's side ends (as at shutdown): the monitor's thread stops and says so.
        let listening = Task { for await _ in wakeUps {} }
        listening.cancel()
        await listening.value
        #expect(try await ProxyTestSupport.eventually { changes.generation == nil }, "a monitor that stopped no longer vouches for a scan")
    }
}
