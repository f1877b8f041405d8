import Foundation

/// Runs a driver call with a deadline. A call that hangs — even one that ignores cancellation —
/// becomes a `Timeout` failure at the deadline; it is cancelled and left to finish on its own.
func withDeadline<T: Sendable>(_ limit: Duration, _ what: String, _ operation: @escaping @Sendable () async throws -> T) async throws(LaneFailure) -> T {
    let result: Result<T, LaneFailure> = await withCheckedContinuation { continuation in
        let once = ResumeOnce(continuation)
        let work = Task {
            do {
                once.resume(.success(try await operation()))
            } catch {
                once.resume(.failure(LaneFailure(error)))
            }
        }
        let timer = Task {
            try? await Task.sleep(for: limit)
            guard !Task.isCancelled else { return }
            if once.resume(.failure(LaneFailure(reason: "Timeout", message: "\(what) did not finish within \(formatted(limit.seconds))"))) {
                work.cancel()
            }
        }
        once.onResume { timer.cancel() }
    }
    return try result.get()
}

/// Resumes a continuation exactly once, whoever comes first.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Result<T, LaneFailure>, Never>?
    private var cleanup: (@Sendable () -> Void)?
    private var done = false

    init(_ continuation: CheckedContinuation<Result<T, LaneFailure>, Never>) { self.continuation = continuation }

    @discardableResult
    func resume(_ result: Result<T, LaneFailure>) -> Bool {
        lock.lock()
        let continuation = self.continuation
        self.continuation = nil
        done = true
        let cleanup = self.cleanup
        lock.unlock()
        guard let continuation else { return false }
        continuation.resume(returning: result)
        cleanup?()
        return true
    }

    /// Runs `action` after the resume (at once if it already happened).
    func onResume(_ action: @escaping @Sendable () -> Void) {
        lock.lock()
        let already = done
        if !already { cleanup = action }
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
