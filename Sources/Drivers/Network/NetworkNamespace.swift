import CGlibcExtras
import Foundation
import Synchronization

/// A network namespace: a named one (`ip netns add NAME`, bound at /var/run/netns/NAME) or any
/// other by path (`/proc/<pid>/ns/net`).
enum NetworkNamespace {
    struct EntryFailure: Error, Sendable {
        var message: String
    }

    static func path(ofNamed name: String) -> String { "/var/run/netns/\(name)" }

    /// Moves the calling thread (only) into the namespace; the error's text when it cannot. Call it
    /// only on a thread that ends afterwards.
    static func enterOnThisThread(_ name: String) -> String? {
        enterOnThisThread(path: path(ofNamed: name))
    }

    static func enterOnThisThread(path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return "cannot open network namespace \(path): " + String(cString: strerror(errno)) }
        defer { close(descriptor) }
        guard proxyfarm_enter_network_namespace(descriptor) == 0 else {
            return "cannot enter network namespace \(path): " + String(cString: strerror(errno))
        }
        return nil
    }

    /// Runs `body` with the calling thread in the namespace at `path`: right here when this thread
    /// is in it already (the daemon's usual case), else on a thread of its own that enters it first
    /// and then ends, since `setns` moves only the thread that calls it.
    static func run<T: Sendable>(at path: String, _ body: @escaping @Sendable () -> T) -> Result<T, EntryFailure> {
        guard let target = ProcFS.namespaceID(path) else {
            return .failure(EntryFailure(message: "cannot open network namespace \(path): " + String(cString: strerror(errno))))
        }
        if target == ProcFS.namespaceID("/proc/thread-self/ns/net") { return .success(body()) }
        let outcome = Mutex<Result<T, EntryFailure>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let result: Result<T, EntryFailure> = if let problem = enterOnThisThread(path: path) { .failure(EntryFailure(message: problem)) } else { .success(body()) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return outcome.withLock { $0! }
    }
}
