import Foundation

/// Runs blocking work (waiting for a child process or a socket) on a thread of its own. Tests run
/// in parallel on the cooperative pool, which has as many threads as cores (two on CI): a test that
/// blocks one stalls the others, and one that waits there for async work may wait for itself.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
