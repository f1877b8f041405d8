import Foundation
import Spec

/// When the daemon has something to do next without being told: a health probe, a rotation, the
/// end of a modem's backoff. Derived from the spec in force and memory after a pass, so the loop
/// wakes for it instead of waiting for the periodic pass.
public struct UpcomingWork: Sendable, Equatable {
    public struct Rotation: Sendable, Equatable {
        public var modem: String
        public var due: Date
        public init(modem: String, due: Date) {
            self.modem = modem
            self.due = due
        }
    }

    /// The earliest moment after the pass at which some modem has work; nil: nothing scheduled.
    public var next: Date?
    /// The modem whose rotation comes next, for the status line.
    public var nextRotation: Rotation?

    /// Only moments after the pass's first look (`PassResult.lookedAt`) count: work due by then
    /// that the pass did not do is waiting for something else (a connect, a backoff), which has
    /// its own moment or the periodic pass. A moment that fell due while the pass ran (a probe
    /// coming round during a hung modem's timeout) was never seen by it, so it counts even though
    /// it has passed: the loop wakes at once.
    public static func of(spec: FarmSpec, memory: [String: ModemMemory], lookedAt: Date, timeZone: TimeZone) -> UpcomingWork {
        var moments: [Date] = []
        var rotation: Rotation?
        for modem in spec.modems where modem.enabled {
            guard let remembered = memory[modem.serial] else { continue }
            if let lastProbe = remembered.lastProbe {
                moments.append(lastProbe.adding(modem.health.interval))
            } else if remembered.session != nil {
                // Connected during this pass, after its probes ran: the first probe is one interval on.
                moments.append(lookedAt.adding(modem.health.interval))
            }
            if let until = remembered.nextAttemptNotBefore { moments.append(until) }
            if let recovery = remembered.recovery { moments.append(recovery.next(powerCycle: modem.health.powerCycle).due) }
            guard remembered.session != nil,
                  let due = RotationSchedule.nextDue(modem.rotation, memory: remembered, now: lookedAt, timeZone: timeZone), due > lookedAt else { continue }
            moments.append(due)
            if rotation.map({ due < $0.due }) ?? true { rotation = Rotation(modem: modem.name, due: due) }
        }
        return UpcomingWork(next: moments.filter { $0 > lookedAt }.min(), nextRotation: rotation)
    }

    /// How long the loop may sleep after a pass that ended at `now` (zero for work already due).
    public func wakeWithin(now: Date) -> Duration? {
        next.map { .milliseconds(max(0, Int64(($0.timeIntervalSince(now) * 1000).rounded(.up)))) }
    }
}

extension RotationSchedule {
    /// When the next rotation falls due (now or earlier when it is due already); nil for `never`
    /// or a modem that never connected.
    public static func nextDue(_ rotation: Spec.Rotation, memory: ModemMemory, now: Date, timeZone: TimeZone) -> Date? {
        guard let reference = [memory.lastRotation, memory.connectedAt].compactMap({ $0 }).max() else { return nil }
        switch rotation {
        case .never:
            return nil
        case .every(let interval):
            return reference.adding(interval)
        case .at(let times):
            if let slot = lastSlot(times, atOrBefore: now, timeZone: timeZone), slot > reference { return slot }
            return nextSlot(times, after: now, timeZone: timeZone)
        }
    }

    /// The earliest occurrence of any of `times` after `now` (today's or tomorrow's).
    static func nextSlot(_ times: [TimeOfDay], after now: Date, timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let today = calendar.startOfDay(for: now)
        let slots = [0, 1].flatMap { offset -> [Date] in
            guard let day = calendar.date(byAdding: .day, value: offset, to: today) else { return [] }
            return times.compactMap {
                calendar.date(bySettingHour: $0.hour, minute: $0.minute, second: 0, of: day,
                              matchingPolicy: .nextTime, repeatedTimePolicy: .first, direction: .forward)
            }
        }
        return slots.filter { $0 > now }.min()
    }
}
