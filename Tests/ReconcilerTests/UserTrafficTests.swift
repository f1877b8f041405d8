import Foundation
@testable import Reconciler
import SimulatedDrivers
import Spec
import Testing

/// Per-user traffic and quotas: 3proxy's counter file decoded, each user's sticky counter slot,
/// what the status and the metrics say, and a quota change planned as a reload.
@Suite struct UserTrafficTests {
    /// A counter file as 3proxy 1.0 writes it on 64-bit Linux.
    static func counterFile(written: Int64, records: [(UInt64, Int64, Int64)], trailing: Int = 0) -> [UInt8] {
        func word(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }
        var bytes: [UInt8] = [0x33, 0x43, 0x46, 0, 0, 0, 0, 0] + word(UInt64(bitPattern: written))
        for (count, cleared, updated) in records {
            bytes += word(count) + word(UInt64(bitPattern: cleared)) + word(UInt64(bitPattern: updated))
        }
        return bytes + [UInt8](repeating: 7, count: trailing)
    }

    @Test func counterFileDecodes() throws {
        let file = Self.counterFile(written: 1_800_000_060, records: [(1_059_684, 0, 1_800_000_030), (0, 0, 0), (1_060_104, 1_800_000_000, 1_800_000_030)],
                                    trailing: 10)
        let counters = try #require(ProxyCounters.decode(file))
        #expect(counters.written == Date(timeIntervalSince1970: 1_800_000_060))
        #expect(counters.records.count == 3, "a partly written record is not one")
        #expect(counters.records[1] == CounterRecord(bytes: 1_059_684, cleared: nil, updated: Date(timeIntervalSince1970: 1_800_000_030)))
        #expect(counters.records[2] == CounterRecord(bytes: 0))
        #expect(counters.records[3]?.cleared == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(ProxyCounters.decode([]) == nil, "3proxy has not written its header yet")
        #expect(ProxyCounters.decode(Array("3CX\0........".utf8) + [UInt8](repeating: 0, count: 8)) == nil)
        #expect(ProxyCounters.decode(Self.counterFile(written: 5, records: []))?.records.isEmpty == true)

        // 32-bit Raspberry Pi OS: a 4-byte time_t, so an 8-byte header and 16-byte records.
        func word32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) } }
        let small: [UInt8] = [0x33, 0x43, 0x46, 0] + word32(1_800_000_060)
            + [0x10, 0x27, 0, 0, 0, 0, 0, 0] + word32(1_800_000_000) + word32(1_800_000_030)
        let decoded = try #require(ProxyCounters.decode(small, timeSize: 4))
        #expect(decoded.written == Date(timeIntervalSince1970: 1_800_000_060))
        #expect(decoded.records == [1: CounterRecord(bytes: 10_000, cleared: Date(timeIntervalSince1970: 1_800_000_000),
                                                     updated: Date(timeIntervalSince1970: 1_800_000_030))])
    }

    /// 3proxy would forgive a new quota's first minute (it reads `cleared` 0 and resets the count
    /// at its next write): before it reads the config, only quota records without a start get one;
    /// their bytes and everything else stay.
    @Test func newQuotaCountsStartTheirPeriodBefore3proxyReadsThem() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_100)
        let config = "counter \"/x/3proxy.counters\"\ncountin 1 N 1099511627776 bob\ncountout 2 N 1099511627776 bob\n"
            + "countall 3 D 1 bob\ncountall 6 M 50 amy\ncountall 9 W 50 eve\nauth strong\n"
        let periodic = ProxyConfigRenderer.periodicCountNumbers(in: config)
        #expect(periodic == [3, 6, 9])
        let file = Self.counterFile(written: 1_800_000_060, records: [(10, 0, 5), (11, 0, 5), (900, 0, 1_800_000_030), (0, 0, 0), (0, 0, 0),
                                                                      (7, 1_799_990_000, 1_799_990_001)])
        var written = file
        for (offset, bytes) in ProxyCounters.periodStarts(of: periodic, file: file, now: now) {
            if written.count < offset + bytes.count { written += [UInt8](repeating: 0, count: offset + bytes.count - written.count) }
            written.replaceSubrange(offset..<offset + bytes.count, with: bytes)
        }
        let counters = try #require(ProxyCounters.decode(written))
        #expect(counters.written == Date(timeIntervalSince1970: 1_800_000_060), "the header is 3proxy's")
        #expect(counters.records[1] == CounterRecord(bytes: 10, updated: Date(timeIntervalSince1970: 5)), "a count for ever is left alone")
        #expect(counters.records[3] == CounterRecord(bytes: 900, cleared: now, updated: Date(timeIntervalSince1970: 1_800_000_030)))
        #expect(counters.records[6] == CounterRecord(bytes: 7, cleared: Date(timeIntervalSince1970: 1_799_990_000),
                                                     updated: Date(timeIntervalSince1970: 1_799_990_001)), "a started period stays")
        #expect(counters.records[9] == CounterRecord(bytes: 0, cleared: now), "a record past the file's end")
        #expect(ProxyCounters.periodStarts(of: periodic, file: written, now: now).isEmpty, "once is enough")

        // A file 3proxy has not written yet gets its header too: 3proxy refuses one without.
        let fresh = ProxyCounters.periodStarts(of: [1], file: [], now: now)
        #expect(fresh.map(\.offset) == [0, 16])
        #expect(ProxyCounters.decode(fresh.flatMap(\.bytes)) == ProxyCounters(written: now, records: [1: CounterRecord(bytes: 0, cleared: now)]))
        #expect(ProxyCounters.periodStarts(of: [1], file: [], now: now, timeSize: 4).map(\.offset) == [0, 8])
    }

    @Test func slotsStayWithTheirUserAndAreNeverReused() {
        var entry = Allocations.Entry(name: "m01", index: 1)
        entry.giveCounters(to: ["bob", "alice"])
        #expect(entry.counters == ["alice": 0, "bob": 1] && entry.nextCounter == 2)
        entry.giveCounters(to: ["bob", "carol"])
        #expect(entry.counters == ["bob": 1, "carol": 2], "alice's slot goes and is not given to carol")
        entry.giveCounters(to: [])
        #expect(entry.counters == nil && entry.nextCounter == 3)
        #expect(CounterSlot(2).receive == 7 && CounterSlot(2).transmit == 8 && CounterSlot(2).quota == 9)
    }

    @Test func quotaUseFollowsThePeriodAs3proxyResetsIt() throws {
        let utc = try #require(TimeZone(identifier: "UTC"))
        let monday = Date(timeIntervalSince1970: 1_795_996_800)  // 2026-11-30 00:00 UTC, a Monday
        let user = ProxyConfigInput.ProxyUser(name: "bob", credential: .clear("pw"), counters: CounterSlot(0),
                                              quota: Quota(bytes: 1 << 20, period: .day))
        func traffic(cleared: Date?, used: UInt64, now: Date) -> UserTraffic? {
            let counters = ProxyCounters(written: now, records: [1: CounterRecord(bytes: 5), 2: CounterRecord(bytes: 6),
                                                                  3: CounterRecord(bytes: used, cleared: cleared)])
            return UserTraffic.users([user], counters: counters, now: now, timeZone: utc)?.first
        }
        let over = try #require(traffic(cleared: monday, used: 1 << 20, now: monday + 3600))
        #expect(over.overQuota == true && over.quotaRemainingBytes == 0 && over.quotaUsedBytes == 1 << 20)
        #expect(over.receive == 5 && over.transmit == 6 && over.quota == "1MB per day" && over.quotaPeriodStarted == monday)
        let nextDay = try #require(traffic(cleared: monday, used: 1 << 20, now: monday + 86400 + 1))
        #expect(nextDay.overQuota == false && nextDay.quotaUsedBytes == 0, "3proxy resets the count at its next write and lets bob in")
        let neverCleared = try #require(traffic(cleared: nil, used: 500, now: monday))
        #expect(neverCleared.quotaUsedBytes == 0, "3proxy resets a count it never cleared at its first write")
        #expect(UserTraffic.users([user], counters: nil, now: monday, timeZone: utc) == nil, "no counter file: nothing to say")

        // 3proxy's week ends when the weekday falls (weeks start on Sunday) or after 7 days.
        let saturday = monday - 2 * 86400
        #expect(Quota.Period.week.hasEnded(since: saturday, now: saturday + 86400, timeZone: utc), "Sunday starts a week")
        #expect(!Quota.Period.week.hasEnded(since: monday - 86400, now: monday + 5 * 86400, timeZone: utc))
        #expect(Quota.Period.month.hasEnded(since: monday, now: monday + 86400, timeZone: utc), "December began")
        #expect(!Quota.Period.total.hasEnded(since: nil, now: monday, timeZone: utc))
    }

    @Test func aQuotaChangeIsAReloadThatSaysSo() {
        let old = "users \"bob:CL:x\"\ncountin 4 N 1099511627776 bob\ncountall 6 M 51200 bob\n"
        let new = "users \"bob:CL:x\"\ncountin 4 N 1099511627776 bob\ncountall 6 D 100 bob\n"
        #expect(ProxyConfigDiff.reason(current: old, wanted: new) == "user bob's quota changed")
        #expect(ProxyConfigDiff.droppedUsers(current: old, wanted: new).isEmpty, "nobody's open connection is cut")
    }

    /// The status and metrics show each user's counts, quota and what is left; a user over quota
    /// is flagged; user counts that moved little do not rewrite the status file.
    @Test func statusAndMetricsShowUsersAndQuotas() async throws {
        var spec = makeSpec(count: 2)
        spec.users[1].quota = Quota(bytes: 1 << 20, period: .month)
        let harness = try await Harness(spec: spec)
        try await harness.pass()
        try await harness.pass()
        let allocations = try harness.store.loadAllocations()
        let m02 = try #require(allocations.modems[serial(2)]?.counters)
        let bob = CounterSlot(try #require(m02["bob"]))
        await harness.farm.writeProxyCounters(modem: "m02", records: [
            bob.receive: CounterRecord(bytes: 3_000_000), bob.transmit: CounterRecord(bytes: 40_000),
            bob.quota: CounterRecord(bytes: 1 << 20, cleared: epoch),
        ], at: epoch)
        try await harness.pass()
        let status = try #require(try harness.store.readModemStatus("m02"))
        let shown = try #require(status.users?.first { $0.name == "bob" })
        #expect(shown.receive == 3_000_000 && shown.transmit == 40_000 && shown.overQuota == true && shown.quotaRemainingBytes == 0)
        #expect(status.users?.first { $0.name == "alice" }?.quota == nil)
        let metrics = try String(contentsOfFile: harness.store.root + "/status/metrics.prom", encoding: .utf8)
        for line in ["proxyfarm_user_receive_bytes_total{modem=\"m02\",user=\"bob\"} 3000000",
                     "proxyfarm_user_transmit_bytes_total{modem=\"m02\",user=\"bob\"} 40000",
                     "proxyfarm_user_quota_bytes{modem=\"m02\",user=\"bob\"} 1048576",
                     "proxyfarm_user_quota_used_bytes{modem=\"m02\",user=\"bob\"} 1048576",
                     "proxyfarm_user_quota_remaining_bytes{modem=\"m02\",user=\"bob\"} 0",
                     "proxyfarm_user_over_quota{modem=\"m02\",user=\"bob\"} 1"] {
            #expect(metrics.contains(line + "\n"), "\(line)")
        }

        let path = harness.store.root + "/status/modems/m02.json"
        let written = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
        await harness.farm.writeProxyCounters(modem: "m02", records: [
            bob.receive: CounterRecord(bytes: 3_000_100), bob.transmit: CounterRecord(bytes: 40_000),
            bob.quota: CounterRecord(bytes: (1 << 20) + 100, cleared: epoch),
        ], at: epoch + 60)
        usleep(10_000)
        try await harness.pass()
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date == written,
                "100 more bytes are no reason to rewrite the status file")
    }
}
