import Foundation
import Synchronization

/// A fresh directory under the system temp dir, removed by `remove()`.
struct ScratchDirectory {
    let path: String

    init(_ label: String) throws {
        path = NSTemporaryDirectory() + "pf\(getpid())-\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: file(name)))
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Counts what an AsyncStream delivers, so tests can wait for "at least n" with a deadline.
final class StreamLog<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])
    private let ended = Mutex(false)
    private let listening = Mutex<Task<Void, Never>?>(nil)

    init(_ stream: AsyncStream<Element>) {
        let task = Task { [self] in
            for await item in stream { items.withLock { $0.append(item) } }
            ended.withLock { $0 = true }
        }
        listening.withLock { $0 = task }
    }

    /// Stops listening: the stream's producer learns that nobody listens any more.
    func stop() { listening.withLock { $0?.cancel() } }

    var elements: [Element] { items.withLock { $0 } }
    var finished: Bool { ended.withLock { $0 } }

    /// Polls every 10 ms until `condition` holds or `timeout` passes; returns whether it held.
    func wait(timeout: Duration = .seconds(3), until condition: (StreamLog) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition(self)
    }
}
