import Foundation

/// One rung of the ladder that brings back a modem whose QMI stopped answering (the commonest
/// EC25 failure), gentlest first. Each rung is tried once, with a growing pause before the next;
/// after the last the last is repeated, further apart. Its lane stays protected throughout.
public enum RecoveryRung: String, Sendable, Equatable, Codable, CaseIterable {
    /// Close and reopen the control device: a wedged read or a stale client is the cheapest fix.
    case reopen
    /// Ask the modem itself to reset (DMS Set Operating Mode reset): works when only its data
    /// side is stuck.
    case resetQMI = "reset-qmi"
    /// Re-enumerate the USB device (sysfs `authorized` 0 then 1): the kernel drops and finds it
    /// again, as on a replug.
    case reenumerate
    /// Cut and restore the hub port's power (`uhubctl`), where the operator allows it
    /// (`health.powerCycle`): a cold boot of the modem.
    case powerCycle = "power-cycle"

    public var summary: String {
        switch self {
        case .reopen: "reopen the control device"
        case .resetQMI: "reset the modem over QMI"
        case .reenumerate: "re-enumerate the USB device"
        case .powerCycle: "power-cycle the USB hub port"
        }
    }

    /// The rungs in order; `powerCycle` only where the operator allows it.
    public static func ladder(powerCycle: Bool) -> [RecoveryRung] {
        powerCycle ? allCases : [.reopen, .resetQMI, .reenumerate]
    }

    /// The pause before attempt n ≥ 1 (the first, reopening, comes at once): 15 s, 30 s, 1 min … 15 min.
    public static let pauses = Backoff(base: .seconds(15), cap: .seconds(900))
}

/// How far the recovery of a modem that does not answer has come (part of its memory).
public struct Recovery: Sendable, Equatable, Codable {
    /// When the modem was first found not answering.
    public var since: Date
    /// Why, as the first look that failed said.
    public var failure: LaneFailure
    /// Rungs tried so far.
    public var attempts: Int = 0
    public var last: Date?
    public var lastRung: RecoveryRung?

    public init(since: Date, failure: LaneFailure) {
        self.since = since
        self.failure = failure
    }

    /// The next rung and when it is due.
    public func next(powerCycle: Bool) -> (rung: RecoveryRung, due: Date) {
        let ladder = RecoveryRung.ladder(powerCycle: powerCycle)
        let rung = ladder[min(attempts, ladder.count - 1)]
        guard attempts > 0, let last else { return (rung, since) }
        return (rung, last.adding(RecoveryRung.pauses.delay(after: attempts)))
    }
}
