import Foundation
import Reconciler
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
/// A real handler (the self-pipe trick) rather than "ignore + dispatch source": with many threads,
/// an ignored signal is discarded by whichever thread does not block it, so a dispatch source
/// misses it at random; a handler catches it on any thread. A caught signal also goes back to its
/// default action across exec, so the proxies the daemon starts still die on SIGTERM.
public final class SignalEvents: Sendable {
    public let signals: AsyncStream<DaemonSignal>
    private let id = UUID()
    private let handled: [DaemonSignal]

    public init(_ handled: [DaemonSignal] = DaemonSignal.allCases) {
        self.handled = handled
        let (stream, continuation) = AsyncStream.makeStream(of: DaemonSignal.self)
        signals = stream
        SignalPipe.shared.subscribe(id, to: Set(handled), continuation)
    }

    /// Stops listening and gives the signals their default actions back.
    public func stop() {
        SignalPipe.shared.unsubscribe(id)
    }

    deinit {
        SignalPipe.shared.unsubscribe(id)
    }
}

extension SignalEvents {
    /// The daemon's view of its signals: SIGHUP as a wake-up (re-read farm.yaml now), SIGTERM and
    /// SIGINT as the stop request that ends the loop. Stopping the wake source stops the signals.
    public func forDaemon() -> (reloads: any WakeSource, stops: AsyncStream<Void>) {
        let (reloads, reloadInput) = AsyncStream.makeStream(of: WakeReason.self)
        let (stops, stopInput) = AsyncStream.makeStream(of: Void.self)
        Task { [signals] in
            for await signal in signals {
                switch signal {
                case .hangup: reloadInput.yield(.reloadRequested)
                case .terminate, .interrupt: stopInput.yield()
                }
            }
            reloadInput.finish()
            stopInput.finish()
        }
        return (SignalWakeSource(wakeups: reloads, events: self), stops)
    }
}

private struct SignalWakeSource: WakeSource {
    let wakeups: AsyncStream<WakeReason>
    let events: SignalEvents
    func stop() { events.stop() }
}

/// Write end of the process-wide signal pipe, read by the C signal handler. Set once, before
/// the first handler is installed, and never changed: the only global mutable state here.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// Async-signal-safe: one write(2) of the signal number, errno preserved.
private func forwardSignal(_ number: Int32) {
    let saved = errno
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(signalPipeWriteEnd, &byte, 1)
    errno = saved
}

/// One pipe and one reader thread per process, fanning caught signals out to subscribers.
private final class SignalPipe: Sendable {
    static let shared = SignalPipe()

    private struct Subscriber {
        var signals: Set<DaemonSignal>
        var continuation: AsyncStream<DaemonSignal>.Continuation
    }
    private let subscribers = Mutex<[UUID: Subscriber]>([:])
    private let ready: Bool

    private init() {
        var fds: [Int32] = [-1, -1]
        ready = pipe(&fds) == 0
        guard ready else { return }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        signalPipeWriteEnd = fds[1]
        let readEnd = fds[0]
        let thread = Thread { [self] in
            var byte: UInt8 = 0
            while read(readEnd, &byte, 1) == 1 || errno == EINTR {
                guard let signal = DaemonSignal(rawValue: Int32(byte)) else { continue }
                subscribers.withLock { subscribers in
                    for subscriber in subscribers.values where subscriber.signals.contains(signal) {
                        subscriber.continuation.yield(signal)
                    }
                }
            }
        }
        thread.name = "signals"
        thread.start()
    }

    func subscribe(_ id: UUID, to signals: Set<DaemonSignal>, _ continuation: AsyncStream<DaemonSignal>.Continuation) {
        guard ready else {
            continuation.finish()
            return
        }
        subscribers.withLock { $0[id] = Subscriber(signals: signals, continuation: continuation) }
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = forwardSignal
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(signal.rawValue, &action, nil)
        }
    }

    /// Restores the default action of every signal no remaining subscriber wants.
    func unsubscribe(_ id: UUID) {
        let (removed, stillWanted) = subscribers.withLock { subscribers in
            let removed = subscribers.removeValue(forKey: id)
            return (removed, subscribers.values.reduce(into: Set<DaemonSignal>()) { $0.formUnion($1.signals) })
        }
        guard let removed else { return }
        for signal in removed.signals.subtracting(stillWanted) {
            Foundation.signal(signal.rawValue, SIG_DFL)
        }
        removed.continuation.finish()
    }
}
