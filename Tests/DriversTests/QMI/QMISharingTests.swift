import CQMI
import Drivers
import Foundation
import ModemSimulator
import Reconciler
import Testing

/// Several processes on one modem (docs/qmi.md): qmi-proxy, the client-id ledger, and a call
/// that is already up.
@Suite("QMI driver against the simulator: sharing a modem")
struct QMISharingTests {
    /// A killed process left a DMS and a pending WDS id (listed in its ledger file, which nobody
    /// holds): the next process frees them when it first opens the modem.
    @Test("ids listed by a dead process are released by the next one")
    func deadProcessIdsAreReclaimed() async throws {
        try await withBench { bench in
            let leaked = try await QMIDevice.open(bench.plugged.controlDevice, options: QMIOpenOptions(timeout: .seconds(3)), sync: false)
            let dms = try await leaked.allocateClient(.dms)
            let wds = try await leaked.allocateClient(.wds)
            try await leaked.release(dms, keepCID: true)
            try await leaked.release(wds, keepCID: true)
            try await leaked.close()
            #expect(bench.modem.snapshot().clients[.dms, default: []] == [dms.cid])
            try FileManager.default.createDirectory(atPath: bench.ledger, withIntermediateDirectories: true)
            let device = bench.plugged.controlDevice
            try "\(device) DMS \(dms.cid)\n\(device) WDS \(wds.cid)\n/dev/other-modem NAS 7\n"
                .write(toFile: bench.ledger + "/999999", atomically: true, encoding: .utf8)

            let control = bench.control()
            _ = try await control.observe(bench.plugged, remembered: nil)
            let during = bench.modem.snapshot().clients
            #expect(during[.dms, default: []].count == 1 && !during[.dms, default: []].contains(dms.cid))
            #expect(during[.wds, default: []].isEmpty)
            let left = try String(contentsOfFile: bench.ledger + "/999999", encoding: .utf8)
            #expect(left == "/dev/other-modem NAS 7\n", "entries of other modems stay for whoever opens those")
            await control.shutdown()
            #expect(bench.modem.snapshot().clients.values.allSatisfy { $0.isEmpty })
            #expect(!FileManager.default.fileExists(atPath: bench.ledger + "/\(getpid())"), "a normal exit leaves no ledger file")
        }
    }

    /// A live process's ledger (its file locked) is never touched.
    @Test("ids of a live process are left alone")
    func liveProcessIdsStay() async throws {
        try await withBench { bench in
            let holder = try await QMIDevice.open(bench.plugged.controlDevice, options: QMIOpenOptions(timeout: .seconds(3)), sync: false)
            let dms = try await holder.allocateClient(.dms)
            // Two direct openers of one port steal each other's answers: the holder steps aside.
            try await holder.release(dms, keepCID: true)
            try await holder.close()
            try FileManager.default.createDirectory(atPath: bench.ledger, withIntermediateDirectories: true)
            let file = bench.ledger + "/999998"
            try "\(bench.plugged.controlDevice) DMS \(dms.cid)\n".write(toFile: file, atomically: true, encoding: .utf8)
            let fd = open(file, O_RDWR)
            defer { close(fd) }
            #expect(flock(fd, LOCK_EX) == 0)

            let control = bench.control()
            _ = try await control.observe(bench.plugged, remembered: nil)
            #expect(bench.modem.snapshot().clients[.dms, default: []].contains(dms.cid))
            await control.shutdown()
            #expect(bench.modem.snapshot().clients[.dms, default: []] == [dms.cid])
        }
    }

    /// A call started by a process that is gone (or by another tool) is taken over, not reset.
    @Test("connect on a modem whose call is already up takes the call over")
    func callAlreadyUpIsTakenOver() async throws {
        try await withBench { bench in
            let other = try await QMIDevice.open(bench.plugged.controlDevice, options: QMIOpenOptions(timeout: .seconds(3)), sync: false)
            let starter = try await other.allocateClient(.wds)
            _ = try await starter.startNetwork(apn: "internet", ipType: .ipv4, auth: nil)
            // The starter goes away without stopping the call or releasing its client id.
            try await other.release(starter, keepCID: true)
            try await other.close()
            let address = try #require(bench.modem.snapshot().sessions.first?.address)

            let control = bench.control()
            defer { Task { await control.shutdown() } }
            let (session, settings) = try await control.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: nil)
            #expect(session.packetDataHandle == 0xFFFF_FFFF)
            #expect(session.clientID != starter.cid)
            #expect(settings.address == address.description)
            #expect(bench.modem.snapshot().sessions.count == 1)
            #expect(bench.requests(.dms, 0x002E) == 0, "no operating-mode change: nothing was reset")
            #expect(try await control.observe(bench.plugged, remembered: session).session == session)

            try await control.disconnect(bench.plugged, session: session)
            #expect(bench.modem.snapshot().sessions.isEmpty)
        }
    }

    /// Through qmi-proxy, a reader beside a holder of the data call disturbs nothing: what a dry
    /// run, `discover` or `status` does next to a running daemon.
    @Test("through qmi-proxy, readers beside a session holder all succeed and the session stays",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/libexec/qmi-proxy") && getuid() == 0))
    func proxySharing() async throws {
        try await withBench { bench in
            let daemon = bench.control(viaProxy: true)
            let (session, _) = try await daemon.connect(bench.plugged, apn: "internet", ipType: .ipv4, reusing: nil)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for _ in 0..<20 {
                        let seen = try await daemon.observe(bench.plugged, remembered: session).session
                        #expect(seen == session)
                    }
                }
                for _ in 0..<3 {
                    group.addTask {
                        for _ in 0..<5 {
                            let reader = bench.control(viaProxy: true)
                            _ = try await reader.observe(bench.plugged, remembered: session)
                            await reader.shutdown()
                        }
                    }
                }
                try await group.waitForAll()
            }
            await daemon.shutdown()
            let clients = bench.modem.snapshot().clients
            #expect(clients[.wds, default: []] == [session.clientID])
            #expect([ModemSimulator.QMIService.dms, .nas, .wda, .uim].allSatisfy { clients[$0, default: []].isEmpty })
            #expect(bench.requests(.ctl, 0x0027) == 0)
        }
    }
}
