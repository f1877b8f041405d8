import Drivers
import Foundation
import Reconciler
import Testing

@Suite struct RequestInboxTests {
    @Test func filedRequestsAreFoundUntilConsumed() throws {
        let dir = try ScratchDirectory("inbox")
        defer { dir.remove() }
        let inbox = RequestInbox(stateDirectory: dir.file("state"))
        let rotate = try ModemRequest(kind: .rotate, modem: "m02")
        let reset = try ModemRequest(kind: .reset, modem: "m01")

        try inbox.file(rotate)
        try inbox.file(reset)
        try inbox.file(rotate)

        #expect(FileManager.default.fileExists(atPath: dir.file("state/requests/rotate-m02")))
        #expect(inbox.contents().requests == [reset, rotate])
        #expect(inbox.contents().strangers.isEmpty)
        try inbox.consume(rotate)
        try inbox.consume(rotate)
        #expect(inbox.contents().requests == [reset])
    }

    @Test func otherFilesAreReportedNotTouched() throws {
        let dir = try ScratchDirectory("strangers")
        defer { dir.remove() }
        let inbox = RequestInbox(stateDirectory: dir.path)
        try inbox.createDirectory()
        try dir.write("requests/rotate-m01", "")
        try dir.write("requests/.rotate-m01.swp", "")
        try dir.write("requests/restart-m01", "")

        let contents = inbox.contents()

        #expect(contents.requests.map(\.description) == ["rotate m01"])
        #expect(contents.strangers == [".rotate-m01.swp", "restart-m01"])
        #expect(FileManager.default.fileExists(atPath: dir.file("requests/restart-m01")))
    }

    /// Only a regular file is a request: a directory, FIFO or symlink with a request's name is a
    /// stranger, and so is a requests/ that is not a directory.
    @Test func entriesThatAreNotRegularFilesAreStrangers() throws {
        let dir = try ScratchDirectory("garbage")
        defer { dir.remove() }
        let inbox = RequestInbox(stateDirectory: dir.path)
        try inbox.createDirectory()
        #expect(mkdir(dir.file("requests/reset-m02"), 0o755) == 0)
        #expect(mkfifo(dir.file("requests/rotate-m03"), 0o644) == 0)
        try dir.write("target", "")
        #expect(symlink(dir.file("target"), dir.file("requests/rotate-m01")) == 0)

        let contents = inbox.contents()

        #expect(contents.requests.isEmpty)
        #expect(contents.strangers == ["reset-m02", "rotate-m01", "rotate-m03"])
        let notADirectory = RequestInbox(stateDirectory: dir.file("target"))
        #expect(notADirectory.contents().requests.isEmpty)
        #expect(notADirectory.contents().strangers.count == 1)
    }

    @Test func aMissingDirectoryHoldsNoRequests() throws {
        let inbox = RequestInbox(stateDirectory: "/nonexistent-pf\(getpid())")
        #expect(inbox.contents() == .init(requests: [], strangers: []))
    }

    @Test func aWatcherOnTheInboxWakesWhenARequestIsFiled() async throws {
        let dir = try ScratchDirectory("inbox-watch")
        defer { dir.remove() }
        let inbox = RequestInbox(stateDirectory: dir.path)
        try inbox.createDirectory()
        let watcher = try DirectoryWatcher(directory: inbox.directory, filter: .prefixes(["rotate-", "reset-"]),
                                           reason: .requestFiled, debounce: .milliseconds(50))
        defer { watcher.stop() }
        let log = StreamLog(watcher.wakeups)

        try inbox.file(ModemRequest(kind: .reset, modem: "m03"))

        #expect(await log.wait { $0.elements == [.requestFiled] })
    }
}

@Suite struct DaemonWatchesTests {
    @Test func watchesTheSpecFileAndTheRequestInbox() async throws {
        let dir = try ScratchDirectory("watches")
        defer { dir.remove() }
        try dir.write("farm.yaml", "version: 1\n")
        let sources = try DaemonWatches.make(specFile: dir.file("farm.yaml"), stateDirectory: dir.file("state"), debounce: .milliseconds(50))
        defer { sources.forEach { $0.stop() } }
        let logs = sources.map { StreamLog($0.wakeups) }

        try RequestInbox(stateDirectory: dir.file("state")).file(ModemRequest(kind: .rotate, modem: "m02"))
        try dir.write("farm.yaml", "version: 1\nmodems: []\n")

        #expect(await logs[0].wait { $0.elements == [.specChanged] })
        #expect(await logs[1].wait { $0.elements == [.requestFiled] })
    }
}

@Suite struct SecretWatchTests {
    /// A password file farm.yaml names wakes the daemon like farm.yaml itself (replaced by rename,
    /// as editors do); a secret's directory that is missing is no error.
    @Test func secretFilesWakeTheDaemon() async throws {
        let dir = try ScratchDirectory("secret-watch")
        defer { dir.remove() }
        try dir.write("farm.yaml", "version: 1\n")
        try FileManager.default.createDirectory(atPath: dir.file("secrets"), withIntermediateDirectories: true)
        try dir.write("secrets/alice", "old\n")
        let sources = try DaemonWatches.make(specFile: dir.file("farm.yaml"), secretFiles: [dir.file("secrets/alice"), dir.file("gone/bob")],
                                             stateDirectory: dir.file("state"), debounce: .milliseconds(50))
        defer { sources.forEach { $0.stop() } }
        #expect(sources.count == 3, "farm.yaml, the inbox and secrets/")
        let secrets = StreamLog(sources[2].wakeups)

        try dir.write("secrets/alice.new", "new\n")
        #expect(rename(dir.file("secrets/alice.new"), dir.file("secrets/alice")) == 0)

        #expect(await secrets.wait { $0.elements == [.specChanged] })
    }
}
