import Foundation

/// What one pass tells the loop when it ends.
public struct PassReport: Sendable, Equatable {
    /// One line for the service manager, e.g. `12/12 ready, next rotation m03 in 4m`.
    public var summary: String
    /// When the pass wants to run again at the latest (the next health probe or rotation due),
    /// counted from its end; nil leaves it to the periodic pass.
    public var wakeWithin: Duration?

    public init(summary: String, wakeWithin: Duration? = nil) {
        self.summary = summary
        self.wakeWithin = wakeWithin
    }
}

/// How the loop talks to its service manager (systemd's notify protocol in production).
public protocol DaemonNotifier: Sendable {
    /// How often the loop must prove it is alive; nil when nobody watches.
    var watchdogInterval: Duration? { get }
    func ready(status: String)
    func status(_ line: String)
    func watchdog()
    func stopping()
}

/// `reconcile daemon`'s loop (issue 8): one pass at start, then one whenever a wake source fires,
/// a pass asks to be woken, or the periodic drift repair is due. Wake-ups that arrive during a
/// pass are coalesced into the next one. A stop request (SIGTERM) cancels the running pass (the
/// executor finishes its current action and starts no other) and ends the loop without
/// touching proxies or modems.
///
/// The watchdog is fed from the loop itself: while idle on each tick, and during a pass only
/// when the pass reports progress through its heartbeat, so a pass that hangs gets the daemon
/// restarted instead of kept alive by a free-running timer.
public struct DaemonLoop: Sendable {
    public struct Configuration: Sendable {
        /// The full pass that repairs drift even when nothing announced a change.
        public var periodicPass: Duration
        /// How often the idle loop pings the watchdog. Passes do not wait for it: the loop
        /// sleeps until the moment the next pass is due.
        public var tick: Duration
        public init(periodicPass: Duration = .seconds(60), tick: Duration = .seconds(1)) {
            self.periodicPass = periodicPass
            self.tick = tick
        }
    }

    /// One pass: why it runs (never empty), and a heartbeat to call after each finished action.
    public typealias Pass = @Sendable (_ reasons: Set<WakeReason>, _ heartbeat: @escaping @Sendable () -> Void) async -> PassReport

    let configuration: Configuration
    let notifier: any DaemonNotifier

    public init(configuration: Configuration = Configuration(), notifier: any DaemonNotifier) {
        self.configuration = configuration
        self.notifier = notifier
    }

    private enum Event: Sendable {
        case wake(WakeReason)
        case stop
        case tick
        case heartbeat
        case passFinished(PassReport)
    }

    /// Runs until `stops` yields (or finishes); returns after the running pass has ended.
    /// Sends READY with the first pass's summary, STATUS after every later one, STOPPING on a stop.
    public func run(wakeSources: [any WakeSource], stops: AsyncStream<Void>, pass: @escaping Pass) async {
        let (events, input) = AsyncStream.makeStream(of: Event.self)
        var feeders = wakeSources.map { source in
            Task { for await reason in source.wakeups { input.yield(.wake(reason)) } }
        }
        feeders.append(Task {
            for await _ in stops { break }
            input.yield(.stop)
        })
        let tick = configuration.tick
        feeders.append(Task {
            while (try? await Task.sleep(for: tick)) != nil { input.yield(.tick) }
        })
        defer { feeders.forEach { $0.cancel() } }

        let clock = ContinuousClock()
        var state = LoopState(now: clock.now, watchdogInterval: notifier.watchdogInterval)
        var running: Task<Void, Never>?
        // Wakes the loop at the moment the next pass is due, so that a probe every 30 s comes
        // every 30 s, not on the next tick after it.
        var due: Task<Void, Never>?
        defer { due?.cancel() }
        func start(_ reasons: Set<WakeReason>) {
            running = Task { input.yield(.passFinished(await pass(reasons) { input.yield(.heartbeat) })) }
        }
        start([.startup])
        for await event in events {
            switch event {
            case .wake(let reason):
                state.pending.insert(reason)
            case .heartbeat:
                if state.watchdogDue(now: clock.now) { notifier.watchdog() }
            case .tick:
                if running == nil, state.watchdogDue(now: clock.now) { notifier.watchdog() }
                if running == nil, clock.now >= state.nextPass { state.pending.insert(.timer) }
            case .stop:
                if !state.stopping { notifier.stopping() }
                state.stopping = true
                running?.cancel()
            case .passFinished(let report):
                running = nil
                if !state.stopping {
                    if state.passes == 0 { notifier.ready(status: report.summary) } else { notifier.status(report.summary) }
                }
                state.passFinished(report, now: clock.now, periodic: configuration.periodicPass)
                due?.cancel()
                due = Task { [nextPass = state.nextPass] in
                    if (try? await Task.sleep(until: nextPass, clock: clock)) != nil { input.yield(.tick) }
                }
            }
            if state.stopping && running == nil { break }
            if running == nil, !state.pending.isEmpty {
                start(state.pending)
                state.pending = []
            }
        }
    }
}

/// The loop's bookkeeping, apart from the tasks.
private struct LoopState {
    var pending: Set<WakeReason> = []
    var stopping = false
    var passes = 0
    var nextPass: ContinuousClock.Instant
    let watchdogInterval: Duration?
    var lastWatchdog: ContinuousClock.Instant

    init(now: ContinuousClock.Instant, watchdogInterval: Duration?) {
        nextPass = now
        lastWatchdog = now
        self.watchdogInterval = watchdogInterval
    }

    mutating func passFinished(_ report: PassReport, now: ContinuousClock.Instant, periodic: Duration) {
        passes += 1
        nextPass = now + min(periodic, report.wakeWithin ?? periodic)
    }

    /// True (and recorded) when a ping is due; pings come at most once per interval.
    mutating func watchdogDue(now: ContinuousClock.Instant) -> Bool {
        guard let watchdogInterval, now - lastWatchdog >= watchdogInterval else { return false }
        lastWatchdog = now
        return true
    }
}
