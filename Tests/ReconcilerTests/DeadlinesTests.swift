@testable import Reconciler
import Synchronization
import Testing

/// One watcher task serves every pending deadline (`Deadlines`): an earlier deadline added later
/// still fires first, a removed one never fires, and a finished call leaves nothing behind.
@Suite struct DeadlinesTests {
    @Test func anEarlierDeadlineAddedLaterFiresFirstAndARemovedOneNever() async throws {
        let deadlines = Deadlines()
        let fired = Mutex<[String]>([])
        let start = ContinuousClock.now
        let late = deadlines.add(at: start + .seconds(3600)) { fired.withLock { $0.append("late") } }
        let removed = deadlines.add(at: start + .milliseconds(20)) { fired.withLock { $0.append("removed") } }
        deadlines.remove(removed)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            _ = deadlines.add(at: start + .milliseconds(60)) {
                fired.withLock { $0.append("early") }
                continuation.resume()
            }
        }
        #expect(fired.withLock { $0 } == ["early"])
        #expect(deadlines.count == 1)
        deadlines.remove(late)
        #expect(deadlines.count == 0)
    }

    @Test func deadlinesFireEarliestFirstAndTheWatcherGoesOnToTheNext() async throws {
        let deadlines = Deadlines()
        let fired = Mutex<[Int]>([])
        let start = ContinuousClock.now
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            for index in 0..<3 {
                _ = deadlines.add(at: start + .milliseconds(10 + index)) { fired.withLock { $0.append(index) } }
            }
            _ = deadlines.add(at: start + .milliseconds(80)) {
                fired.withLock { $0.append(3) }
                continuation.resume()
            }
        }
        // Earliest first, also when the watcher wakes late (a busy pool) and finds all four due.
        #expect(fired.withLock { $0 } == [0, 1, 2, 3])
        #expect(deadlines.count == 0)
    }

    @Test func aHungCallTimesOutAndAFinishedOneLeavesNoDeadline() async throws {
        let deadlines = Deadlines()
        let value = try await withDeadline(.seconds(3600), "a quick call", deadlines: deadlines) { 42 }
        #expect(value == 42)
        #expect(deadlines.count == 0)
        await #expect(throws: LaneFailure.self) {
            try await withDeadline(.milliseconds(50), "a hung call", deadlines: deadlines) {
                try await Task.sleep(for: .seconds(3600))
                return 0
            }
        }
        do {
            _ = try await withDeadline(.milliseconds(50), "a call that ignores cancellation", deadlines: deadlines) { () async -> Int in
                await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }
                return 0
            }
            Issue.record("no timeout")
        } catch {
            #expect(error.reason == "Timeout")
            #expect(error.message == "a call that ignores cancellation did not finish within 50ms")
        }
        #expect(deadlines.count == 0)
    }
}
