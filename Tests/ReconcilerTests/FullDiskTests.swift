import Foundation
import Glibc
@testable import Reconciler
import SimulatedDrivers
import Testing

/// A state directory on a real filesystem that fills up (a 2 MB tmpfs): files cannot be written,
/// and the farm must keep working, neither repeat what it did nor lose what it was asked.
@Suite(.enabled(if: geteuid() == 0 || ProcessInfo.processInfo.environment["CI"] == "true",
                "needs root to mount a tmpfs; CI (CI=true) fails instead of skipping"))
struct FullDiskTests {
    /// A tmpfs of its own, filled and emptied on demand.
    final class SmallDisk {
        let path = temporaryDirectory()
        var filler: String { path + "/filler" }

        init() throws {
            guard mount("tmpfs", path, "tmpfs", 0, "size=2m,mode=0755") == 0 else {
                throw StateError(reason: "MountFailed", message: "mount a tmpfs at \(path): \(String(cString: strerror(errno)))")
            }
        }

        /// Writes until the filesystem says ENOSPC.
        func fill() throws {
            let fd = open(filler, O_WRONLY | O_CREAT, 0o600)
            defer { close(fd) }
            let block = [UInt8](repeating: 0, count: 64 * 1024)
            while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
            #expect(errno == ENOSPC)
        }

        func empty() { unlink(filler) }

        deinit { umount2(path, Int32(MNT_DETACH)) }
    }

    @Test func aFullDiskNeitherBreaksALaneNorRepeatsARotationNorLosesARequest() async throws {
        let disk = try SmallDisk()
        let spec = makeSpec(count: 2) { if $0.name == "m01" { $0.rotation = .every(.seconds(600)) } }
        let harness = try await Harness(spec: spec, stateDirectory: disk.path + "/state")
        try await harness.pass()
        let request = try ModemRequest(kind: .rotate, modem: "m02")
        try harness.store.requests.file(request)
        try disk.fill()

        // m01's rotation is due: it rotates, and its routing follows the new address in the same
        // pass; the pass fails for the memory it could not write, and m02's request waits.
        harness.clock.advance(by: .seconds(601))
        await #expect(throws: LaneFailure.self) { try await harness.pass() }
        let newAddress = RoutingRule(priority: 101, selector: .from("100.64.1.11"), table: 101)
        #expect(await harness.farm.network.rules.contains(newAddress), "m01's lane follows its rotation")
        #expect(await harness.farm.network.rules.contains(RoutingRule(priority: 102, selector: .from("100.64.2.10"), table: 102)))
        #expect(harness.store.requests.contents().requests == [request])
        try Self.expectWholeLines(harness.store.root + "/log/actions.jsonl")

        // Still full: m01 is not rotated again (the rotation is remembered), and the request still waits.
        harness.clock.advance(by: .seconds(30))
        await #expect(throws: LaneFailure.self) { try await harness.pass() }
        #expect(await harness.farm.network.rules.contains(newAddress), "no second rotation")
        #expect(harness.store.requests.contents().requests == [request])

        // Space again: the pass converges, writes what it kept, and answers the request.
        disk.empty()
        let result = try await harness.pass()
        #expect(result.converged, "\(result.remaining.lines)")
        #expect(await harness.farm.network.rules.contains(RoutingRule(priority: 102, selector: .from("100.64.2.11"), table: 102)))
        #expect(await harness.farm.network.rules.contains(newAddress))
        #expect(harness.store.requests.contents().requests.isEmpty)
        #expect(try harness.store.readModemStatus("m01")?.rotation.count == 1)
        try Self.expectWholeLines(harness.store.root + "/log/actions.jsonl")
    }

    /// tmpfs allocates whole pages: with 10 bytes left in the log's last page and no page free,
    /// a write takes 10 bytes of a line and refuses the rest.
    @Test func anAuditLineCutShortByAFullDiskIsTakenBack() throws {
        let disk = try SmallDisk()
        let store = try StateStore(root: disk.path + "/state")
        let entry = AuditEntry(time: epoch, modem: "m01", action: "rotate", summary: "m01: rotate", reason: "schedule every 10m",
                               outcome: "ok", message: nil)
        try store.appendAudit(entry)
        let log = store.root + "/log/actions.jsonl"
        var padding = (4086 - Self.size(log) % 4096 + 4096) % 4096
        if padding < 12 { padding += 4096 }
        let pad = "{\"p\":\"" + String(repeating: "x", count: padding - 9) + "\"}\n"
        #expect(FileManager.default.createFile(atPath: log, contents: try Data(contentsOf: URL(filePath: log)) + Data(pad.utf8)))
        let before = Self.size(log)
        #expect(before % 4096 == 4086)
        try disk.fill()

        #expect(throws: StateError.self) { try store.appendAudit(entry) }
        #expect(Self.size(log) == before, "the cut line was taken back")
        try Self.expectWholeLines(log)
    }

    static func size(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }

    /// The audit log holds whole JSON lines only, whatever a full disk cut short.
    static func expectWholeLines(_ path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasSuffix("\n"))
        for line in text.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "a cut line: \(line)")
        }
    }
}
