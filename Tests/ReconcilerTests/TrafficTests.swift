import Foundation
import Reconciler
import SimulatedDrivers
import Testing

/// Per-modem bytes from the interface counters (Traffic.swift), in memory, status and metrics.
@Suite struct TrafficTests {
    static let MiB: UInt64 = 1 << 20

    func counters(_ index: Int, _ receive: UInt64, _ transmit: UInt64) -> InterfaceCounters {
        InterfaceCounters(index: index, bytes: ByteCounts(receive: receive, transmit: transmit))
    }

    @Test func countsFromFirstSightAcrossResetsAndNewInterfaces() {
        var traffic = Traffic(startingAt: counters(7, 5000, 900))
        #expect(traffic.total == .zero)
        traffic = traffic.counting(counters(7, 8000, 1000))
        #expect(traffic.total == ByteCounts(receive: 3000, transmit: 100))
        // The counters went down on the same interface: reset to zero, everything since counts.
        traffic = traffic.counting(counters(7, 400, 2000))
        #expect(traffic.total == ByteCounts(receive: 3400, transmit: 2100))
        // Another incarnation (replug): its counters started at zero, even if they are higher.
        traffic = traffic.counting(counters(12, 9000, 3000))
        #expect(traffic.total == ByteCounts(receive: 12_400, transmit: 5100))
        traffic = traffic.counting(counters(12, 9000, 3000))
        #expect(traffic.total == ByteCounts(receive: 12_400, transmit: 5100))
        #expect(traffic.lastCounters == counters(12, 9000, 3000))
    }

    @Test func writingIsWorthItFromOneMebibyteOrOnePercent() {
        let written = ByteCounts(receive: 10 * Self.MiB, transmit: 0)
        #expect(!ByteCounts(receive: 11 * Self.MiB - 1, transmit: Self.MiB - 1).worthWriting(over: written))
        #expect(ByteCounts(receive: 11 * Self.MiB, transmit: 0).worthWriting(over: written))
        #expect(ByteCounts(receive: 0, transmit: Self.MiB).worthWriting(over: .zero))
        let big = ByteCounts(receive: 1000 * Self.MiB, transmit: 0)
        #expect(!ByteCounts(receive: 1009 * Self.MiB, transmit: 0).worthWriting(over: big))
        #expect(ByteCounts(receive: 1010 * Self.MiB, transmit: 0).worthWriting(over: big))
        #expect(ByteCounts.zero.worthWriting(over: nil))
    }

    @Test func trafficShowsWithinOnePassAndSurvivesRotationReplugRestartAndReset() async throws {
        var harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        try await harness.pass()
        await harness.farm.carry(serial: serial(1), receive: 3 * Self.MiB, transmit: 2 * Self.MiB)
        try await harness.pass()
        let expected = ByteCounts(receive: 3 * Self.MiB, transmit: 2 * Self.MiB)
        #expect(try harness.store.readModemStatus("m01")?.traffic == expected)
        #expect(try harness.store.readModemStatus("m02")?.traffic == .zero)
        let metrics = try String(contentsOfFile: harness.store.root + "/status/metrics.prom", encoding: .utf8)
        #expect(metrics.contains("proxyfarm_modem_receive_bytes_total{modem=\"m01\"} \(3 * Self.MiB)\n"))
        #expect(metrics.contains("proxyfarm_modem_transmit_bytes_total{modem=\"m01\"} \(2 * Self.MiB)\n"))
        #expect(metrics.contains("proxyfarm_modem_receive_bytes_total{modem=\"m02\"} 0\n"))

        // A rotation keeps the interface and the count.
        try harness.store.requests.file(ModemRequest(kind: .rotate, modem: "m01"))
        try await harness.pass()
        await harness.farm.carry(serial: serial(1), receive: Self.MiB, transmit: 0)
        try await harness.pass()
        #expect(try harness.store.readModemStatus("m01")?.rotation.count == 1)
        #expect(try harness.store.readModemStatus("m01")?.traffic == ByteCounts(receive: 4 * Self.MiB, transmit: 2 * Self.MiB))

        // Bytes moved while no reconciler ran are counted by the next one.
        await harness.farm.carry(serial: serial(1), receive: 2 * Self.MiB, transmit: 0)
        try harness.restartReconciler()
        try await harness.pass()
        #expect(try harness.store.readModemStatus("m01")?.traffic == ByteCounts(receive: 6 * Self.MiB, transmit: 2 * Self.MiB))

        // A replug is a new interface, counted from its zero; so is a counter reset.
        await harness.farm.unplug(serial: serial(1))
        try await harness.pass()
        await harness.farm.plug(serial: serial(1))
        await harness.farm.carry(serial: serial(1), receive: Self.MiB, transmit: Self.MiB)
        try await harness.pass()
        #expect(try harness.store.readModemStatus("m01")?.traffic == ByteCounts(receive: 7 * Self.MiB, transmit: 3 * Self.MiB))
        await harness.farm.resetCounters(serial: serial(1))
        await harness.farm.carry(serial: serial(1), receive: 2 * Self.MiB, transmit: 0)
        try await harness.pass()
        #expect(try harness.store.readModemStatus("m01")?.traffic == ByteCounts(receive: 9 * Self.MiB, transmit: 3 * Self.MiB))
    }

    /// A probe's few bytes are volatile: they neither rewrite the status nor the memory, and the
    /// next write carries them; a restart loses none of them.
    @Test func smallTrafficWritesNoFileAndIsNotLostOnRestart() async throws {
        var harness = try await Harness(spec: makeSpec(count: 1))
        try await harness.pass()
        try await harness.pass()
        let files = ["/status/modems/m01.json", "/modems/\(serial(1)).json", "/status/metrics.prom"].map { harness.store.root + $0 }
        let old = Date(timeIntervalSince1970: 1_000_000)
        for file in files { try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: file) }
        await harness.farm.carry(serial: serial(1), receive: 700, transmit: 300)
        try await harness.pass()
        for file in files { #expect(try FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date == old, "\(file)") }
        #expect(try harness.store.readModemStatus("m01")?.traffic == .zero)

        await harness.farm.carry(serial: serial(1), receive: 300, transmit: 0)
        try harness.restartReconciler()
        await harness.farm.carry(serial: serial(1), receive: Self.MiB, transmit: 0)
        try await harness.pass()
        #expect(try harness.store.readModemStatus("m01")?.traffic == ByteCounts(receive: Self.MiB + 1000, transmit: 300))
    }
}
