import Dispatch
import Foundation
import Synchronization

/// The signals the daemon acts on (issue 8): SIGTERM/SIGINT stop after the current action,
/// SIGHUP re-reads farm.yaml now.
public enum DaemonSignal: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case terminate = 15
    case hangup = 1
    case interrupt = 2

    public var description: String {
        switch self {
        case .terminate: "SIGTERM"
        case .hangup: "SIGHUP"
        case .interrupt: "SIGINT"
        }
    }
}

/// Delivers signals as an AsyncStream instead of killing the process.
///
/// The default action is set to "ignore" first, so a signal that arrives before (or besides)
/// the dispatch source cannot terminate the daemon; `stop()` restores the defaults. Processes
/// spawned while this is active inherit "ignore" for these signals unless the spawner resets
/// them (posix_spawn with POSIX_SPAWN_SETSIGDEF), which the proxy supervisor must do.
public final class SignalEvents: Sendable {
    public let signals: AsyncStream<DaemonSignal>
    private let sources: Mutex<[any DispatchSourceSignal]>
    private let handled: [DaemonSignal]

    public init(_ handled: [DaemonSignal] = DaemonSignal.allCases) {
        self.handled = handled
        let (stream, continuation) = AsyncStream.makeStream(of: DaemonSignal.self)
        signals = stream
        let queue = DispatchQueue(label: "proxyfarm.signals")
        let sources = handled.map { signal in
            Foundation.signal(signal.rawValue, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal.rawValue, queue: queue)
            source.setEventHandler { continuation.yield(signal) }
            source.setCancelHandler { continuation.finish() }
            source.resume()
            return source
        }
        self.sources = Mutex(sources)
    }

    /// Stops listening and gives the signals their default actions back.
    public func stop() {
        let active = sources.withLock { sources in
            defer { sources = [] }
            return sources
        }
        guard !active.isEmpty else { return }
        for source in active { source.cancel() }
        for signal in handled { Foundation.signal(signal.rawValue, SIG_DFL) }
    }
}
