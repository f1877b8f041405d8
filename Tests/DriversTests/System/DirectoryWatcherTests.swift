import Drivers
import Foundation
import Reconciler
import Testing

@Suite struct DirectoryWatcherTests {
    /// Short debounce so that "nothing more arrives" can be checked quickly.
    static let debounce = Duration.milliseconds(150)
    /// Long enough for a debounced wake-up that should have come to have come.
    static let settle = Duration.milliseconds(500)

    @Test func renameOverTheFileWakesOnceAsAnEditorSaves() async throws {
        let dir = try ScratchDirectory("rename")
        defer { dir.remove() }
        try dir.write("farm.yaml", "version: 1\n")
        let watcher = try DirectoryWatcher(directory: dir.path, filter: .names(["farm.yaml"]), reason: .specChanged, debounce: Self.debounce)
        defer { watcher.stop() }
        let log = StreamLog(watcher.wakeups)

        try dir.write(".farm.yaml.swp", "version: 1\nmodems: []\n")
        try FileManager.default.moveItem(atPath: dir.file("farm.yaml"), toPath: dir.file("farm.yaml~"))
        #expect(rename(dir.file(".farm.yaml.swp"), dir.file("farm.yaml")) == 0)

        #expect(await log.wait { $0.elements.count >= 1 })
        try await Task.sleep(for: Self.settle)
        #expect(log.elements == [.specChanged])
    }

    @Test func writeInPlaceWakes() async throws {
        let dir = try ScratchDirectory("inplace")
        defer { dir.remove() }
        try dir.write("farm.yaml", "version: 1\n")
        let watcher = try DirectoryWatcher(directory: dir.path, filter: .names(["farm.yaml"]), reason: .specChanged, debounce: Self.debounce)
        defer { watcher.stop() }
        let log = StreamLog(watcher.wakeups)

        let handle = try #require(FileHandle(forWritingAtPath: dir.file("farm.yaml")))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("modems: []\n".utf8))
        try handle.close()

        #expect(await log.wait { $0.elements.count == 1 })
    }

    @Test func aBurstOfWritesIsOneWakeUp() async throws {
        let dir = try ScratchDirectory("burst")
        defer { dir.remove() }
        let watcher = try DirectoryWatcher(directory: dir.path, filter: .names(["farm.yaml"]), reason: .specChanged, debounce: .milliseconds(250))
        defer { watcher.stop() }
        let log = StreamLog(watcher.wakeups)

        // 20 saves, in place and by rename, as fast as they go: far more events than wake-ups.
        for revision in 0..<10 {
            try dir.write("farm.yaml", "# revision \(revision)\n")
            try dir.write(".farm.yaml.new", "# revision \(revision)b\n")
            #expect(rename(dir.file(".farm.yaml.new"), dir.file("farm.yaml")) == 0)
        }

        #expect(await log.wait { $0.elements.count >= 1 })
        try await Task.sleep(for: Self.settle)
        #expect(log.elements.count == 1)
    }

    @Test func otherFilesInTheDirectoryDoNotWake() async throws {
        let dir = try ScratchDirectory("filter")
        defer { dir.remove() }
        let watcher = try DirectoryWatcher(directory: dir.path, filter: .names(["farm.yaml"]), reason: .specChanged, debounce: Self.debounce)
        defer { watcher.stop() }
        let log = StreamLog(watcher.wakeups)

        try dir.write("notes.txt", "hello\n")
        try dir.write("farm.yaml.orig", "version: 1\n")
        try FileManager.default.removeItem(atPath: dir.file("notes.txt"))
        try await Task.sleep(for: Self.settle)
        #expect(log.elements.isEmpty)

        try dir.write("farm.yaml", "version: 1\n")
        #expect(await log.wait { $0.elements.count == 1 })
    }

    @Test func deletingTheFileWakes() async throws {
        let dir = try ScratchDirectory("delete")
        defer { dir.remove() }
        try dir.write("farm.yaml", "version: 1\n")
        let watcher = try DirectoryWatcher(directory: dir.path, filter: .names(["farm.yaml"]), reason: .specChanged, debounce: Self.debounce)
        defer { watcher.stop() }
        let log = StreamLog(watcher.wakeups)

        try FileManager.default.removeItem(atPath: dir.file("farm.yaml"))

        #expect(await log.wait { $0.elements.count == 1 })
    }

    @Test func gitCheckoutOfAnotherRevisionWakes() async throws {
        let dir = try ScratchDirectory("git")
        defer { dir.remove() }
        try dir.write("farm.yaml", "version: 1\nmodems: []\n")
        try git(dir, "init", "-q")
        try git(dir, "add", "farm.yaml")
        try git(dir, "commit", "-q", "-m", "one")
        try dir.write("farm.yaml", "version: 1\nmodems: [] # two\n")
        try git(dir, "commit", "-q", "-am", "two")
        let watcher = try DirectoryWatcher(directory: dir.path, filter: .names(["farm.yaml"]), reason: .specChanged, debounce: Self.debounce)
        defer { watcher.stop() }
        let log = StreamLog(watcher.wakeups)

        try git(dir, "checkout", "-q", "HEAD~1")

        #expect(await log.wait { $0.elements.count >= 1 })
        #expect(try String(contentsOfFile: dir.file("farm.yaml"), encoding: .utf8) == "version: 1\nmodems: []\n")
    }

    @Test func requestFilesWakeByPrefix() async throws {
        let dir = try ScratchDirectory("requests")
        defer { dir.remove() }
        let prefixes = ModemRequest.Kind.allCases.map { $0.rawValue + "-" }
        let watcher = try DirectoryWatcher(directory: dir.path, filter: .prefixes(prefixes), reason: .requestFiled, debounce: Self.debounce)
        defer { watcher.stop() }
        let log = StreamLog(watcher.wakeups)

        try dir.write(".tmp-1234", "")
        try await Task.sleep(for: Self.settle)
        #expect(log.elements.isEmpty)

        try dir.write("rotate-m01", "")
        #expect(await log.wait { $0.elements == [.requestFiled] })
    }

    @Test func stopFinishesTheStream() async throws {
        let dir = try ScratchDirectory("stop")
        defer { dir.remove() }
        let watcher = try DirectoryWatcher(directory: dir.path, filter: .names(["farm.yaml"]), reason: .specChanged)
        let log = StreamLog(watcher.wakeups)

        watcher.stop()
        watcher.stop()

        #expect(await log.wait { $0.finished })
    }

    @Test func aMissingDirectoryIsAClearError() throws {
        let error = #expect(throws: SystemCallError.self) {
            try DirectoryWatcher(directory: "/nonexistent-pf\(getpid())", filter: .names(["farm.yaml"]), reason: .specChanged)
        }
        #expect(error?.message == "cannot watch directory /nonexistent-pf\(getpid()): No such file or directory")
        #expect(error?.reason == "SystemCallFailed")
    }

    private func git(_ dir: ScratchDirectory, _ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = ["-C", dir.path, "-c", "user.name=test", "-c", "user.email=test@example.invalid"] + arguments
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "git \(arguments.joined(separator: " ")) failed")
    }
}
