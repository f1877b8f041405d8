import Foundation
import Spec

/// One record of 3proxy's counter file (`counter FILE`), as 3proxy 1.0 writes it (3proxy.c
/// dumpcounters): the bytes a `countin`/`countout`/`countall` rule counted, when the count last
/// started again and when traffic was last added.
public struct CounterRecord: Sendable, Equatable {
    public var bytes: UInt64
    /// 0 until 3proxy first resets the count (a `total` count never is).
    public var cleared: Date?
    public var updated: Date?
    public init(bytes: UInt64, cleared: Date? = nil, updated: Date? = nil) {
        self.bytes = bytes
        self.cleared = cleared
        self.updated = updated
    }
}

/// 3proxy's counter file, decoded. Its layout is 3proxy's structs as the host's C compiler lays
/// them out (structures.h); with an 8-byte `time_t` (64-bit boards): a 16-byte header — "3CF\0",
/// 4 bytes of padding, the time of the last write — then one 24-byte record per rule number N at
/// offset 16 + 24·(N−1): bytes (u64), cleared (time_t), updated (time_t); with a 4-byte `time_t`
/// (32-bit Raspberry Pi OS) an 8-byte header and 16-byte records. Little-endian on every board
/// ProxyFarm runs on. 3proxy writes it once a minute, when the minute changes, and at every
/// reload; at exit (SIGTERM) only when the minute changed, which is why a stop reloads first
/// (ThreeProxySupervisor.flushCounters).
public struct ProxyCounters: Sendable, Equatable {
    public var written: Date
    /// By rule number (from 1); records 3proxy has not written yet are absent.
    public var records: [Int: CounterRecord]

    public init(written: Date, records: [Int: CounterRecord]) {
        self.written = written
        self.records = records
    }

    /// The size of this host's `time_t`: the 3proxy beside the reconciler was built for the same.
    public static let hostTimeSize = MemoryLayout<time_t>.size

    /// nil when the bytes are not a counter file (too short, wrong signature): 3proxy itself
    /// refuses to start with such a file ("Not a counter file").
    public static func decode(_ bytes: [UInt8], timeSize: Int = hostTimeSize) -> ProxyCounters? {
        let headerSize = 4 + (timeSize == 8 ? 4 : 0) + timeSize
        let recordSize = 8 + 2 * timeSize
        guard bytes.count >= headerSize, bytes[0..<4].elementsEqual([0x33, 0x43, 0x46, 0]) else { return nil }
        func word(_ offset: Int, _ size: Int) -> UInt64 {
            (0..<size).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
        }
        func date(_ offset: Int) -> Date? {
            let raw = word(offset, timeSize)
            let seconds = timeSize == 8 ? Int64(bitPattern: raw) : Int64(Int32(truncatingIfNeeded: raw))
            return seconds > 0 ? Date(timeIntervalSince1970: TimeInterval(seconds)) : nil
        }
        var records: [Int: CounterRecord] = [:]
        var offset = headerSize
        while offset + recordSize <= bytes.count {
            let number = (offset - headerSize) / recordSize + 1
            records[number] = CounterRecord(bytes: word(offset, 8), cleared: date(offset + 8), updated: date(offset + 8 + timeSize))
            offset += recordSize
        }
        return ProxyCounters(written: date(headerSize - timeSize) ?? Date(timeIntervalSince1970: 0), records: records)
    }
}

extension ProxyCounters {
    /// The writes (offset, bytes) into a counter file holding `file` that start the periods of
    /// the counts numbered `periodic` at `now` where none started yet. 3proxy reads a new rule's
    /// record with `cleared` 0, and at its next write (when the minute changes) takes that for a
    /// period that ended: it starts the count from 0, so whatever the user moved until then is
    /// forgiven — up to a minute of a new quota (3proxy.c dumpcounters). A record with a start
    /// keeps it and its bytes; a file without a header gets one (3proxy refuses a file whose
    /// first bytes are not its signature), dated `now` as 3proxy would.
    public static func periodStarts(of periodic: [Int], file: [UInt8], now: Date, timeSize: Int = hostTimeSize) -> [(offset: Int, bytes: [UInt8])] {
        let headerSize = 4 + (timeSize == 8 ? 4 : 0) + timeSize
        let recordSize = 8 + 2 * timeSize
        let seconds = UInt64(max(0, Int64(now.timeIntervalSince1970)))
        func word(_ value: UInt64, _ size: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }
        var writes: [(offset: Int, bytes: [UInt8])] = []
        if file.count < headerSize {
            writes.append((0, [0x33, 0x43, 0x46, 0] + [UInt8](repeating: 0, count: headerSize - 4 - timeSize) + word(seconds, timeSize)))
        }
        for number in periodic where number > 0 {
            let offset = headerSize + (number - 1) * recordSize
            let record = offset + recordSize <= file.count ? Array(file[offset..<offset + recordSize]) : [UInt8](repeating: 0, count: recordSize)
            guard record[8..<8 + timeSize].allSatisfy({ $0 == 0 }) else { continue }
            writes.append((offset, Array(record[0..<8]) + word(seconds, timeSize) + Array(record[(8 + timeSize)...])))
        }
        return writes
    }
}

/// The rule numbers of one user's counts in their modem's counter file. Each user on a modem has
/// a slot k (Allocations.Entry.counters) that no other user of that modem ever gets, and the
/// three numbers after 3k: bytes in and bytes out since the slot was given (never reset), and the
/// quota's count (reset by 3proxy at the period's start).
public struct CounterSlot: Sendable, Equatable {
    public var slot: Int
    public init(_ slot: Int) { self.slot = slot }
    public var receive: Int { 3 * slot + 1 }
    public var transmit: Int { 3 * slot + 2 }
    public var quota: Int { 3 * slot + 3 }
}

extension Quota.Period {
    /// 3proxy's rotation letter for the period (conf.c getrotate: anything else counts for ever).
    var threeProxyLetter: String {
        switch self {
        case .day: "D"
        case .week: "W"
        case .month: "M"
        case .total: "N"
        }
    }

    /// Whether 3proxy resets a count cleared at `cleared` when it looks at `now` (3proxy.c
    /// timechanged, in the proxy's local time): another day of the year, another month, or a week
    /// that began: a weekday lower than before (so weeks start on Sunday), or 7 days gone.
    func hasEnded(since cleared: Date?, now: Date, timeZone: TimeZone) -> Bool {
        guard self != .total else { return false }
        guard let cleared else { return true }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let old = calendar.dateComponents([.month, .weekday], from: cleared)
        let new = calendar.dateComponents([.month, .weekday], from: now)
        let elapsed = now.timeIntervalSince(cleared)
        switch self {
        case .day: return calendar.ordinality(of: .day, in: .year, for: cleared) != calendar.ordinality(of: .day, in: .year, for: now)
        case .month: return old.month != new.month
        case .week:
            // tm_wday counts from Sunday = 0; Calendar's weekday from Sunday = 1: the order is the same.
            let (was, isNow) = (old.weekday ?? 0, new.weekday ?? 0)
            return elapsed > 7 * 86400 || isNow < was || (isNow == was && elapsed > 6 * 86400)
        case .total: return false
        }
    }
}

/// status/modems/<name>.json `users[]`: what one user passed through this modem's proxy, as its
/// 3proxy counted it (docs/status.md). The counts are those of 3proxy's last write of its counter
/// file, so up to a minute old.
public struct UserTraffic: Sendable, Codable, Equatable {
    public var name: String
    /// Bytes from the internet to the user, and from the user out, since the user was put on this modem.
    public var receive: UInt64
    public var transmit: UInt64
    /// The quota as farm.yaml gives it, e.g. `50GB per month`; absent without one.
    public var quota: String?
    public var quotaBytes: UInt64?
    /// Bytes in and out counted against the quota in the current period.
    public var quotaUsedBytes: UInt64?
    public var quotaRemainingBytes: UInt64?
    /// When 3proxy last started the quota's count again (absent until it first did).
    public var quotaPeriodStarted: Date?
    /// True while 3proxy refuses the user on this modem (HTTP 503, SOCKS5 reply 2).
    public var overQuota: Bool?

    public init(name: String, receive: UInt64, transmit: UInt64, quota: Quota? = nil, used: UInt64 = 0, periodStarted: Date? = nil) {
        self.name = name
        self.receive = receive
        self.transmit = transmit
        guard let quota else { return }
        self.quota = quota.description
        quotaBytes = quota.bytes
        quotaUsedBytes = used
        quotaRemainingBytes = quota.bytes > used ? quota.bytes - used : 0
        quotaPeriodStarted = periodStarted
        overQuota = used >= quota.bytes
    }

    var counts: ByteCounts { ByteCounts(receive: receive, transmit: transmit) }

    /// Without what moves with every byte: who, which quota and whether it is used up stay.
    var withoutCounts: UserTraffic {
        var user = self
        user.receive = 0
        user.transmit = 0
        user.quotaUsedBytes = nil
        user.quotaRemainingBytes = nil
        user.quotaPeriodStarted = nil
        return user
    }

    /// Each user's counts from `counters` (nil when the proxy has no counter file yet). A quota
    /// whose period ended since 3proxy last cleared it counts from zero: 3proxy resets it at its
    /// next write and lets the user in already.
    static func users(_ users: [ProxyConfigInput.ProxyUser], counters: ProxyCounters?, now: Date, timeZone: TimeZone) -> [UserTraffic]? {
        guard let counters, !users.isEmpty else { return nil }
        return users.map { user in
            let slot = user.counters
            let count = counters.records[slot.quota]
            let current = user.quota.map { !$0.period.hasEnded(since: count?.cleared, now: now, timeZone: timeZone) } ?? false
            return UserTraffic(name: user.name, receive: counters.records[slot.receive]?.bytes ?? 0,
                               transmit: counters.records[slot.transmit]?.bytes ?? 0, quota: user.quota,
                               used: current ? count?.bytes ?? 0 : 0, periodStarted: current ? count?.cleared : nil)
        }
    }
}
