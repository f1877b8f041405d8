import Foundation
import Reconciler
import SimulatedDrivers
import Synchronization
import Testing

/// SIGTERM in the daemon cancels the pass: the action in flight finishes, no other starts, and
/// nothing is recorded that did not happen.
@Suite struct ExecutorStopTests {
    @Test func aCancelledPassStopsBetweenActionsAndRecordsOnlyWhatRan() async throws {
        var harness = try await Harness(spec: makeSpec(count: 3), latency: .milliseconds(20))
        harness.settings.batch = 1
        let heartbeats = Mutex(0)
        let running = Mutex<Task<Void, any Error>?>(nil)
        var reconciler = harness.reconciler
        reconciler.progress = {
            let beats = heartbeats.withLock { $0 += 1; return $0 }
            if beats == 2 { running.withLock { $0?.cancel() } }
        }
        let spec = harness.spec, store = harness.store
        let pass = Task { _ = try await reconciler.apply(spec: spec, store: store, secrets: testSecrets, revision: "rev1") }
        running.withLock { $0 = pass }

        await #expect(throws: CancellationError.self) { try await pass.value }

        let audit = try String(contentsOfFile: store.root + "/log/actions.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(heartbeats.withLock { $0 } == 2)
        #expect(audit.count == 2, "\(audit)")
        #expect(audit.allSatisfy { $0.contains("\"outcome\":\"ok\"") })
        #expect(store.statusNames().isEmpty, "no status written from a look taken before the stop")
        let changes = ["unlockSIM", "setRawIP", "connect", "disconnect", "setOperatingMode", "applyNetwork", "writeConfig", "startProxy",
                       "reloadProxy", "stopProxy"]
        let calls = await harness.farm.calls
        #expect(calls.filter { call in changes.contains { call.hasPrefix($0 + " ") } }.count == 2, "\(calls)")
    }

    @Test func everyFinishedActionBeatsTheHeart() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        let heartbeats = Mutex(0)
        var reconciler = harness.reconciler
        reconciler.progress = { heartbeats.withLock { $0 += 1 } }

        let (result, _) = try await reconciler.apply(spec: harness.spec, store: harness.store, secrets: testSecrets, revision: "rev1")

        #expect(result.converged)
        #expect(heartbeats.withLock { $0 } >= result.applied.filter { $0.action.kind.step != .network }.count)
    }
}
