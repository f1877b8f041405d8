import Drivers
import Foundation
import ModemSimulator
import Reconciler
import Testing

@Suite("QMI client ids and concurrency against the simulator")
struct QMIClientTests {
    @Test("a client released keeping its id stays allocated and can be bound again; RELEASE_CID frees it")
    func releaseKeepsOrFreesClientID() async throws {
        try await withBench { bench in
            let device = try await QMIDevice.open(bench.plugged.controlDevice, options: QMIOpenOptions(timeout: .seconds(3)), sync: true)
            let wds = try await device.allocateClient(.wds)
            #expect(bench.modem.snapshot().clients[.wds, default: []] == [wds.cid])
            try await device.release(wds, keepCID: true)
            #expect(bench.modem.snapshot().clients[.wds, default: []] == [wds.cid])

            let again = try await device.allocateClient(.wds, reusing: wds.cid)
            #expect(again.cid == wds.cid)
            #expect(try await again.isConnected() == false)
            try await device.release(again, keepCID: false)
            #expect(bench.modem.snapshot().clients[.wds, default: []].isEmpty)
            try await device.close()
        }
    }

    @Test("opening with sync releases the client ids the modem still holds")
    func syncReleasesHeldIDs() async throws {
        try await withBench { bench in
            let options = QMIOpenOptions(timeout: .seconds(3))
            let first = try await QMIDevice.open(bench.plugged.controlDevice, options: options, sync: true)
            let dms = try await first.allocateClient(.dms)
            try await first.release(dms, keepCID: true)
            try await first.close()
            #expect(bench.modem.snapshot().clients[.dms, default: []] == [dms.cid])
            let second = try await QMIDevice.open(bench.plugged.controlDevice, options: options, sync: true)
            #expect(bench.modem.snapshot().clients[.dms, default: []].isEmpty)
            try await second.close()
        }
    }

    @Test("a cancelled caller stops waiting at once, without waiting for the timeout")
    func cancellationEndsTheCall() async throws {
        try await withBench { bench in
            let control = bench.control(timeout: .seconds(10))
            defer { Task { await control.shutdown() } }
            _ = try await control.observe(bench.plugged, remembered: nil)
            bench.modem.inject(.noAnswer(includingControl: true))
            let clock = ContinuousClock()
            let start = clock.now
            let task = Task { await expectQMIError { _ = try await control.observe(bench.plugged, remembered: nil) } }
            try await Task.sleep(for: .milliseconds(200))
            task.cancel()
            let (error, _) = await task.value
            #expect(error?.reason == "Cancelled")
            #expect(clock.now - start < .seconds(4))
        }
    }

    @Test("many observes of several modems at once share one client per service and modem")
    func parallelObserves() async throws {
        let benches = try (1...3).map { n in
            try SimulatedBench(.init(imei: "35907206000010\(n)"))
        }
        defer { benches.forEach { $0.tearDown() } }
        let control = QMIModemControl(options: QMIOpenOptions(timeout: .seconds(5)))
        defer { Task { await control.shutdown() } }
        let imeis = try await withThrowingTaskGroup(of: String.self) { group in
            for bench in benches {
                for _ in 0..<8 {
                    group.addTask { try await control.observe(bench.plugged, remembered: nil).imei }
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(imeis.sorted() == benches.flatMap { bench in Array(repeating: bench.modem.configuration.imei, count: 8) }.sorted())
        for bench in benches {
            let clients = bench.modem.snapshot().clients
            for service in [ModemSimulator.QMIService.dms, .uim, .wda, .nas] {
                #expect(clients[service, default: []].count == 1, "\(service) on \(bench.modem.configuration.imei)")
            }
        }
    }
}
