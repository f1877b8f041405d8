import Foundation

/// What the hardware cannot tell us again about one modem (state/modems/<serial>.json).
public struct ModemMemory: Sendable, Equatable, Codable {
    public var serial: String
    /// Operator requests taken (the request file's name and identity, see `RequestInbox.identity`): written before the action that answers one runs, so a pass that
    /// fails or is killed afterwards never acts on the same request again.
    public var takenRequests: [TakenRequest]?
    /// Where the modem was last seen: finds the remembered session of a modem known only by IMEI.
    public var usbPath: String?
    /// The data session we started (client id + packet data handle), reused after a restart.
    public var session: DataSession?
    /// When the modem last got a data session (start of the rotation schedule when it never rotated).
    public var connectedAt: Date?
    public var lastRotation: Date?
    public var rotations: Int = 0
    /// Whether the last rotation kept the same address (the network did not hand out a new one).
    public var lastRotationSameAddress: Bool?
    /// The address before the last rotation or reset, to tell "same IP" afterwards.
    public var lastAddress: String?
    public var lastProbe: Date?
    public var lastProbeResult: ProbeResult?
    public var consecutiveHealthFailures: Int = 0
    public var resets: Int = 0
    public var lastReset: Date?
    /// Resets since the modem was last healthy: the exponent of the backoff between resets.
    public var resetsSinceHealthy: Int = 0
    /// Consecutive failed actions, the exponent of the per-modem backoff.
    public var consecutiveFailures: Int = 0
    public var nextAttemptNotBefore: Date?
    public var lastFailure: LaneFailure?
    /// Set after a PIN attempt that did not succeed: the PIN is never tried again automatically
    /// (three wrong tries lock the SIM). Cleared when the SIM is found ready.
    public var pinAttemptFailedAt: Date?
    /// Set while the modem is plugged in but does not answer: how far its recovery has come.
    public var recovery: Recovery?
    /// Bytes the modem's interface carried since ProxyFarm first saw it; nil before that.
    public var traffic: Traffic?
    /// Failed health probes ever (nil in memory written before it was counted: none counted yet).
    public var probeFailures: Int?

    public init(serial: String) { self.serial = serial }
}

/// One failed action, as conditions and the audit log show it.
public struct LaneFailure: Sendable, Equatable, Codable, Error {
    /// CamelCase, e.g. `Timeout`, `SimPinRejected`.
    public var reason: String
    /// One line without secrets.
    public var message: String
    public init(reason: String, message: String) {
        self.reason = reason
        self.message = message
    }

    public init(_ error: any Error) {
        if let failure = error as? LaneFailure {
            self = failure
        } else if let error = error as? any OperatorFacingError {
            self.init(reason: error.reason, message: error.message)
        } else {
            self.init(reason: "DriverError", message: String(describing: error))
        }
    }
}

/// How long a modem waits after failures; grows exponentially and is capped.
public struct Backoff: Sendable, Equatable {
    public var base: Duration
    public var cap: Duration
    public init(base: Duration, cap: Duration) {
        self.base = base
        self.cap = cap
    }

    /// The wait after the `n`th consecutive failure (n ≥ 1): base, 2·base, 4·base, … up to cap.
    public func delay(after n: Int) -> Duration {
        let exponent = min(max(n - 1, 0), 30)
        let delay = base * (1 << exponent)
        return min(delay, cap)
    }

    /// Between actions that failed: starts small so a flaky USB call retries soon.
    public static let actions = Backoff(base: .seconds(5), cap: .seconds(600))
    /// Between resets of a modem that stays unhealthy.
    public static let resets = Backoff(base: .seconds(60), cap: .seconds(3600))
}

extension Duration {
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}

extension Date {
    func adding(_ duration: Duration) -> Date { addingTimeInterval(duration.seconds) }
}

extension ModemMemory {
    /// After a failed action: back off exponentially.
    public func recordingFailure(_ failure: LaneFailure, at now: Date, backoff: Backoff) -> ModemMemory {
        var next = self
        next.consecutiveFailures += 1
        next.nextAttemptNotBefore = now.adding(backoff.delay(after: next.consecutiveFailures))
        next.lastFailure = failure
        return next
    }

    /// After a lane whose actions all succeeded: the backoff is over.
    public func recordingSuccess() -> ModemMemory {
        var next = self
        next.consecutiveFailures = 0
        next.nextAttemptNotBefore = nil
        next.lastFailure = nil
        return next
    }

    /// The memory as a clock that went back finds it (an NTP correction; a Raspberry Pi without a
    /// real-time clock that booted with a time from the future): an event remembered after `now`
    /// is taken as happening now, and a wait beyond `longestWait` is cut to it. Otherwise
    /// rotations, probes, resets and retries would wait until the clock caught up — maybe days.
    public func clockedBack(to now: Date, longestWait: Duration) -> ModemMemory {
        var next = self
        for date in [\ModemMemory.connectedAt, \.lastRotation, \.lastProbe, \.lastReset, \.pinAttemptFailedAt] {
            if let value = next[keyPath: date], value > now { next[keyPath: date] = now }
        }
        if let until = nextAttemptNotBefore { next.nextAttemptNotBefore = min(until, now.adding(longestWait)) }
        next.recovery?.since = min(recovery?.since ?? now, now)
        if let last = recovery?.last, last > now { next.recovery?.last = now }
        return next
    }

    /// Counts a health probe towards (or away from) a reset.
    public func recordingProbe(_ result: ProbeResult, at now: Date) -> ModemMemory {
        var next = self
        next.lastProbe = now
        next.lastProbeResult = result
        if result.ok {
            next.consecutiveHealthFailures = 0
            next.resetsSinceHealthy = 0
        } else {
            next.consecutiveHealthFailures += 1
            next.probeFailures = (probeFailures ?? 0) + 1
        }
        return next
    }

    /// Whether the modem is backing off from failed actions at `now`.
    public func isBackingOff(at now: Date) -> Bool {
        guard let until = nextAttemptNotBefore else { return false }
        return now < until
    }
}

/// A request a pass took: its file's name and identity (inode and modification time).
public struct TakenRequest: Sendable, Equatable, Codable {
    public var file: String
    public var identity: String

    public init(file: String, identity: String) {
        self.file = file
        self.identity = identity
    }
}
