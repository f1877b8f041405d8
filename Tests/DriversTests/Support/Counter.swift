import Synchronization

/// A count that any thread may step, for tests that count callbacks or need unique numbers.
final class Counter: Sendable {
    private let value = Atomic(0)

    /// Counts one more; returns the new count.
    @discardableResult
    func next() -> Int { value.add(1, ordering: .relaxed).newValue }

    var count: Int { value.load(ordering: .relaxed) }
}
