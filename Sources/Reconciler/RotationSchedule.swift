import Foundation
import Spec

/// When a modem's next rotation is due.
///
/// `every`: due once the interval has passed since the modem last got a new address (its last
/// rotation, or its last connect when that is later: a reconnect already gave it a new address).
/// `at`: times of day in `timeZone` (the host's local zone). A time is due when its most recent
/// occurrence — today's or, before it comes round, yesterday's — lies after that reference, so a
/// rotation at 04:00 happens once per day however often the loop runs, also across midnight.
/// DST: a time that does not exist on a day (skipped by a spring-forward) fires at the first valid
/// instant after it; a time that occurs twice (fall-back) fires at its first occurrence only.
public enum RotationSchedule {
    /// The reason the rotation is due, or nil when it is not.
    public static func due(_ rotation: Rotation, memory: ModemMemory, now: Date, timeZone: TimeZone) -> String? {
        let reference = [memory.lastRotation, memory.connectedAt].compactMap { $0 }.max()
        guard let reference else { return nil }
        let label = reference == memory.lastRotation ? "last rotation" : "connected"
        let since = "\(label) \(formatted(now.timeIntervalSince(reference))) ago"
        switch rotation {
        case .never:
            return nil
        case .every(let interval):
            guard now.timeIntervalSince(reference) >= interval.seconds else { return nil }
            return "schedule every \(formatted(interval.seconds)), \(since)"
        case .at(let times):
            guard let slot = lastSlot(times, atOrBefore: now, timeZone: timeZone), slot > reference else { return nil }
            return "schedule at \(times.map(\.description).joined(separator: ", ")), \(since)"
        }
    }

    /// The latest occurrence of any of `times` at or before `now`.
    static func lastSlot(_ times: [TimeOfDay], atOrBefore now: Date, timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let today = calendar.startOfDay(for: now)
        var best: Date?
        for dayOffset in [0, -1] {
            guard let day = calendar.date(byAdding: .day, value: dayOffset, to: today) else { continue }
            for time in times {
                guard let slot = calendar.date(bySettingHour: time.hour, minute: time.minute, second: 0, of: day,
                                               matchingPolicy: .nextTime, repeatedTimePolicy: .first, direction: .forward),
                      slot <= now else { continue }
                if best.map({ slot > $0 }) ?? true { best = slot }
            }
        }
        return best
    }
}

/// `10m4s`, `2h5m`, `45s`, `3d4h`, `200ms`: short, for reasons and status messages.
func formatted(_ interval: Double) -> String {
    if interval > 0, interval < 1 { return "\(Int((interval * 1000).rounded()))ms" }
    var seconds = Int(interval.rounded(.down))
    let days = seconds / 86400; seconds %= 86400
    let hours = seconds / 3600; seconds %= 3600
    let minutes = seconds / 60; seconds %= 60
    let parts: [(Int, String)] = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    let shown = parts.drop { $0.0 == 0 }.prefix(2).filter { $0.0 != 0 }
    return shown.isEmpty ? "0s" : shown.map { "\($0.0)\($0.1)" }.joined()
}

/// `2026-11-30T03:20:12Z`: a moment in reasons and status messages (ISO 8601, UTC, like the status files).
func timestamp(_ date: Date) -> String {
    date.formatted(.iso8601)
}
