import Foundation
import Reconciler
import Spec
import Testing

/// The built `reconcile-bench`, next to the test bundle.
func benchExecutable() throws -> String {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent("reconcile-bench").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory.deleteLastPathComponent()
    }
    let fallback = FileManager.default.currentDirectoryPath + "/.build/debug/reconcile-bench"
    guard FileManager.default.isExecutableFile(atPath: fallback) else {
        throw StateError(reason: "NoHelper", message: "reconcile-bench not built next to \(CommandLine.arguments[0])")
    }
    return fallback
}

/// A child process whose stdout lines the test reads.
final class Child {
    let process = Process()
    let input = Pipe()
    let output = Pipe()

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: try benchExecutable())
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    func firstLine() -> String {
        var bytes = Data()
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            bytes += byte
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite struct StateStoreTests {
    @Test func secondReconcilerIsRefusedNamingTheHolder() throws {
        let directory = temporaryDirectory()
        let child = try Child(["hold-lock", directory])
        defer { child.kill() }
        #expect(child.firstLine() == "locked \(child.process.processIdentifier)")
        do {
            _ = try StateStore(root: directory)
            Issue.record("a second store took the lock")
        } catch {
            #expect(error.reason == "StateLocked")
            #expect(error.message.contains("pid \(child.process.processIdentifier)"))
        }
        child.kill()
        // The kernel releases the lock of a dead holder.
        _ = try StateStore(root: directory)
    }

    /// The lock is the directory's: whatever happens to the file `lock`, a second reconciler is refused.
    @Test(arguments: ["rename", "delete", "replace"])
    func lockFileTamperingLetsNoSecondReconcilerIn(_ tampering: String) throws {
        let directory = temporaryDirectory()
        let child = try Child(["hold-lock", directory])
        defer { child.kill() }
        #expect(child.firstLine() == "locked \(child.process.processIdentifier)")
        let lockFile = directory + "/lock"
        switch tampering {
        case "rename": #expect(rename(lockFile, directory + "/lock.old") == 0)
        case "delete": #expect(unlink(lockFile) == 0)
        default: try Data("999999\n".utf8).write(to: URL(fileURLWithPath: lockFile))
        }
        do {
            _ = try StateStore(root: directory)
            Issue.record("a second store took the lock after the lock file was \(tampering)d")
        } catch {
            #expect(error.reason == "StateLocked")
            #expect(error.message.contains("pid \(child.process.processIdentifier)"))
        }
    }

    @Test func writerKilledAtRandomNeverLeavesAPartFile() throws {
        let directory = temporaryDirectory()
        let target = directory + "/target"
        for round in 0..<24 {
            let child = try Child(["write-loop", target])
            #expect(child.firstLine() == "writing")
            // Where the kill lands is the test's randomness; the message names it for a replay.
            let delay = UInt32.random(in: 0...30_000)
            usleep(delay)
            child.kill()
            let which = "round \(round) (killed after \(delay) µs)"
            let data = try #require(FileManager.default.contents(atPath: target), "\(which)")
            let newline = try #require(data.firstIndex(of: UInt8(ascii: "\n")))
            let header = String(decoding: data[..<newline], as: UTF8.self).split(separator: " ")
            let size = try #require(Int(header.last ?? ""))
            let body = data[(newline + 1)...]
            #expect(body.count == size, "\(which): torn file")
            #expect(Set(body).count == 1, "\(which): mixed versions")
        }
        // Leftover temp files of the killed writers are removed when a store opens the directory.
        _ = try StateStore(root: directory)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(".tmp-") }
        #expect(leftovers.isEmpty)
    }

    @Test func unchangedFileKeepsItsMtime() throws {
        let path = temporaryDirectory() + "/file.json"
        #expect(try AtomicFile.write(Data("one\n".utf8), to: path))
        let old = Date(timeIntervalSince1970: 1_000_000)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: path)
        #expect(try !AtomicFile.write(Data("one\n".utf8), to: path))
        let mtime = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
        #expect(mtime == old)
        #expect(try AtomicFile.write(Data("two\n".utf8), to: path))
        #expect(FileManager.default.contents(atPath: path) == Data("two\n".utf8))
    }

    /// A state file that is there but cannot be read (here a directory in its place: EISDIR, as
    /// an I/O error of a failing SD card would be) fails loudly; taken for missing, allocations
    /// would hand out ports again and a modem's memory would be forgotten.
    @Test func aStateFileThatCannotBeReadIsNeverTakenForMissing() throws {
        let store = try StateStore(root: temporaryDirectory())
        try FileManager.default.createDirectory(atPath: store.root + "/allocations.json", withIntermediateDirectories: true)
        #expect { try store.loadAllocations() } throws: { ($0 as? StateError)?.reason == "StateIOError" }
        try FileManager.default.createDirectory(atPath: store.root + "/modems/8600000000001.json", withIntermediateDirectories: true)
        #expect { try store.loadMemory() } throws: { ($0 as? StateError)?.message.contains("8600000000001.json") == true }
        #expect(try AtomicFile.contents(of: store.root + "/no-such-file") == nil, "only a file that is not there is missing")
    }

    @Test func allocationsAreStickyAndFreedWithTheirModem() throws {
        let spec = makeSpec(count: 3)
        let (first, failures) = Allocations().updated(for: spec)
        #expect(failures.isEmpty)
        #expect(first.modems[serial(2)] == .init(name: "m02", index: 2, httpPort: 20002, socksPort: 20003,
                                                 counters: ["alice": 0, "bob": 1], nextCounter: 2))
        var shrunk = spec
        shrunk.modems.remove(at: 0)
        let (second, _) = first.updated(for: shrunk)
        #expect(second.modems[serial(1)] == nil)
        #expect(second.modems[serial(2)] == first.modems[serial(2)])
        var grown = shrunk
        grown.modems.append(makeSpec(count: 4).modems[3])
        let (third, _) = second.updated(for: grown)
        // The new modem takes the freed lane and ports, never those of a listed modem.
        #expect(third.modems[serial(4)]?.index == 1)
        #expect(third.modems[serial(3)] == first.modems[serial(3)])
        var explicit = grown
        explicit.modems[0].ports = PortRequest(http: 20004)
        let (fourth, _) = third.updated(for: explicit)
        #expect(fourth.modems[serial(2)]?.httpPort == nil)
        #expect(fourth.modems[serial(3)]?.httpPort != 20004)
    }

    @Test func laneZeroIsNeverAModemsAndAnOldOneMoves() {
        let spec = makeSpec(count: 2)
        let old = Allocations(modems: [serial(1): .init(name: "m01", index: 0, httpPort: 20000, socksPort: 20001)])
        let (allocations, failures) = old.updated(for: spec)
        #expect(failures.isEmpty)
        #expect(allocations.modems[serial(1)] == .init(name: "m01", index: 1, httpPort: 20000, socksPort: 20001,
                                                       counters: ["alice": 0], nextCounter: 1))
        #expect(allocations.modems[serial(2)]?.index == 2)
    }

    @Test func kernelTablesAreNeverALane() {
        var spec = makeSpec(count: 200)
        spec.routing.tableBase = 200
        let (allocations, _) = Allocations().updated(for: spec)
        let tables = Set(allocations.modems.values.map { 200 + $0.index })
        #expect(tables.isDisjoint(with: [253, 254, 255]))
    }
}
