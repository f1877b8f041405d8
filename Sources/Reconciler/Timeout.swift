import Foundation
import Synchronization

/// Runs a driver call with a deadline. A call that hangs — even one that ignores cancellation —
/// becomes a `Timeout` failure at the deadline; it is cancelled and left to finish on its own.
/// The limit counts from when the call starts running, not while it waits for a thread.
func withDeadline<T: Sendable>(_ limit: Duration, _ what: String, deadlines: Deadlines = .shared,
                               _ operation: @escaping @Sendable () async throws -> T) async throws(LaneFailure) -> T {
    let result: Result<T, LaneFailure> = await withCheckedContinuation { continuation in
        let once = ResumeOnce(continuation)
        let work = Task {
            let deadline = deadlines.add(at: .now + limit) {
                once.resume(.failure(LaneFailure(reason: "Timeout", message: "\(what) did not finish within \(formatted(limit.seconds))")))
            }
            once.onResume { deadlines.remove(deadline) }
            do {
                once.resume(.success(try await operation()))
            } catch {
                once.resume(.failure(LaneFailure(error)))
            }
        }
        once.onResume { work.cancel() }
    }
    return try result.get()
}

/// Every pending deadline of the process, watched by one sleeping task. A pass over 1,000 modems
/// would otherwise start and cancel a timer task (and a dispatch timer behind it) per driver call,
/// and a pass over 100 real modems one per QMI request. The watcher is a task like the calls it
/// guards: while the cooperative pool is saturated, a deadline is late together with the work it
/// limits.
public final class Deadlines: Sendable {
    public static let shared = Deadlines()

    private struct Pending {
        var at: ContinuousClock.Instant
        var fire: @Sendable () -> Void
    }

    private struct State {
        var pending: [UInt64: Pending] = [:]
        var nextID: UInt64 = 0
        /// When the watcher wakes next, and which watcher that is; nil while none runs.
        var watcher: (until: ContinuousClock.Instant, generation: UInt64, task: Task<Void, Never>)?
    }

    private let state = Mutex(State())

    /// Calls `fire` at `instant` unless `remove` comes first. A deadline no earlier than the
    /// watcher's next wake-up costs no timer of its own.
    public func add(at instant: ContinuousClock.Instant, fire: @escaping @Sendable () -> Void) -> UInt64 {
        state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.pending[id] = Pending(at: instant, fire: fire)
            if let watcher = state.watcher, watcher.until <= instant { return id }
            state.watcher?.task.cancel()
            state.watcher = (instant, id, Task { await self.watch(until: instant, generation: id) })
            return id
        }
    }

    /// Forgets a deadline whose call finished; the watcher is not woken for it.
    public func remove(_ id: UInt64) {
        _ = state.withLock { $0.pending.removeValue(forKey: id) }
    }

    /// How many deadlines are pending.
    var count: Int { state.withLock { $0.pending.count } }

    /// Sleeps until the earliest pending deadline, fires every one that is due (earliest first: a
    /// watcher woken late finds several), and goes on while any remain; ends when superseded by a
    /// watcher for an earlier deadline.
    private func watch(until first: ContinuousClock.Instant, generation: UInt64) async {
        var until = first
        while true {
            do { try await Task.sleep(until: until, clock: .continuous) } catch { return }
            let (due, next) = state.withLock { state -> ([@Sendable () -> Void], ContinuousClock.Instant?) in
                guard state.watcher?.generation == generation else { return ([], nil) }
                let now = ContinuousClock.now
                let dueIDs = state.pending.filter { $0.value.at <= now }.sorted { ($0.value.at, $0.key) < ($1.value.at, $1.key) }.map(\.key)
                let due = dueIDs.compactMap { state.pending.removeValue(forKey: $0)?.fire }
                let next = state.pending.values.lazy.map(\.at).min()
                if let next { state.watcher?.until = next } else { state.watcher = nil }
                return (due, next)
            }
            due.forEach { $0() }
            guard let next else { return }
            until = next
        }
    }
}

/// Resumes a continuation exactly once, whoever comes first.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Result<T, LaneFailure>, Never>?
    private var cleanups: [@Sendable () -> Void] = []
    private var done = false

    init(_ continuation: CheckedContinuation<Result<T, LaneFailure>, Never>) { self.continuation = continuation }

    @discardableResult
    func resume(_ result: Result<T, LaneFailure>) -> Bool {
        lock.lock()
        let continuation = self.continuation
        self.continuation = nil
        done = true
        let cleanups = self.cleanups
        self.cleanups = []
        lock.unlock()
        guard let continuation else { return false }
        cleanups.forEach { $0() }
        continuation.resume(returning: result)
        return true
    }

    /// Runs `action` at the resume, before the caller goes on (at once if it already happened).
    func onResume(_ action: @escaping @Sendable () -> Void) {
        lock.lock()
        let already = done
        if !already { cleanups.append(action) }
        lock.unlock()
        if already { action() }
    }
}

/// Runs `body` for every item, at most `limit` at a time; results in item order.
func boundedConcurrently<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async -> R) async -> [R] {
    await withTaskGroup(of: (Int, R).self) { group in
        var results = [R?](repeating: nil, count: items.count)
        var next = 0
        for _ in 0..<min(max(limit, 1), items.count) {
            let index = next
            group.addTask { (index, await body(items[index])) }
            next += 1
        }
        while let (index, result) = await group.next() {
            results[index] = result
            if next < items.count {
                let index = next
                group.addTask { (index, await body(items[index])) }
                next += 1
            }
        }
        return results.compactMap { $0 }
    }
}
