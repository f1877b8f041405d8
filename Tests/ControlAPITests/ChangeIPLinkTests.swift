@testable import ControlAPI
import Reconciler
import Foundation
import Testing

/// The change-IP link against the document, with `StatusFixture.act` playing the daemon.
/// `OpenAPITests` runs these scenarios.
enum ChangeIPLinkTests {
    static let m01 = StatusFixture.linkTokens["m01"] ?? ""

    static func api(_ farm: StatusFixture, linkWait: Duration = .seconds(5)) throws -> ControlAPI {
        try ControlAPI(farm.configuration(linkWait: linkWait), pollInterval: .milliseconds(20))
    }

    static func rotatesOnceThenSaysHowLongToWait(_ method: String) async throws {
        let farm = try StatusFixture()
        let api = try Self.api(farm)
        async let daemon: Void = farm.act(rotating: "m01", to: "100.64.1.77")
        let answer = await ControlAPITests.send(api, method, "/v1/link/" + Self.m01)
        try await daemon
        #expect(answer.status == 200)
        #expect(answer.json == .object(["modem": .string("m01"), "oldIP": .string("100.64.1.10"), "newIP": .string("100.64.1.77"),
                                        "sameIP": .bool(false)]))
        #expect(farm.pendingRequests.isEmpty)
        let again = await ControlAPITests.send(api, method, "/v1/link/" + Self.m01)
        #expect(again.status == 429 && again.error == "TooSoon")
        let wait = try #require(again.json?["retryAfterSeconds"].map(\.text).flatMap(Int.init))
        #expect((55...60).contains(wait) && again.response.header("Retry-After") == String(wait))
        #expect(farm.pendingRequests.isEmpty, "a refused call files nothing")
    }

    static func aRecentRotationCountsTowardsMinInterval(_ method: String) async throws {
        let farm = try StatusFixture()
        try farm.writeModem("m01", phase: "Ready", ip: "100.64.1.10", rotations: 3, lastRotation: Date().addingTimeInterval(-45))
        let answer = await ControlAPITests.send(try Self.api(farm), method, "/v1/link/" + Self.m01)
        #expect(answer.error == "TooSoon")
        #expect(answer.json?["retryAfterSeconds"].map(\.text).flatMap(Int.init).map { (14...16).contains($0) } == true)
    }

    static func wrongAndUnknownTokensCannotBeToldApart(_ method: String) async throws {
        let farm = try StatusFixture()
        let api = try Self.api(farm)
        let wrong = await ControlAPITests.send(api, method, "/v1/link/" + Self.m01.dropLast() + "0", client: "203.0.113.1")
        let unknown = await ControlAPITests.send(api, method, "/v1/link/never-issued-token-000000", client: "203.0.113.2")
        let operatorToken = await ControlAPITests.send(api, "POST", "/v1/link/" + StatusFixture.operatorToken, client: "203.0.113.3")
        #expect(wrong.status == 404 && wrong.error == "UnknownLink")
        for other in [unknown, operatorToken] {
            #expect(other.status == wrong.status && other.response.body == wrong.response.body)
            #expect(other.response.headers.map(\.0) == wrong.response.headers.map(\.0))
        }
        #expect(farm.pendingRequests.isEmpty)
    }

    static func refusesWhenTheModemIsNotReadyOrNoDaemonRuns(_ method: String) async throws {
        let farm = try StatusFixture()
        let api = try Self.api(farm)
        let missing = await ControlAPITests.send(api, method, "/v1/link/" + (StatusFixture.linkTokens["m02"] ?? ""))
        #expect(missing.status == 409 && missing.error == "ModemNotReady" && missing.json?["phase"] == .string("Missing"))
        #expect(missing.json?["message"]?.text == "m02 is Missing: NotPluggedIn; try again once it is Ready")
        try FileManager.default.removeItem(atPath: farm.root + "/status/modems/m02.json")
        let unreported = await ControlAPITests.send(api, method, "/v1/link/" + (StatusFixture.linkTokens["m02"] ?? ""))
        #expect(unreported.status == 503 && unreported.error == "NoStatus")
        farm.stopDaemon()
        let noDaemon = await ControlAPITests.send(api, method, "/v1/link/" + Self.m01)
        #expect(noDaemon.status == 503 && noDaemon.error == "NoDaemon")
        #expect(farm.pendingRequests.isEmpty)
        #expect(await ControlAPITests.send(api, "DELETE", "/v1/link/" + Self.m01).error == "MethodNotAllowed")
        #expect(await ControlAPITests.send(api, "HEAD", "/v1/link/" + Self.m01).error == "MethodNotAllowed")
    }

    static func aDaemonThatDoesNotActTimesOut(_ method: String) async throws {
        let farm = try StatusFixture()
        let answer = await ControlAPITests.send(try Self.api(farm, linkWait: .milliseconds(300)), method, "/v1/link/" + Self.m01)
        #expect(answer.status == 504 && answer.error == "RotationTimeout")
        #expect(farm.pendingRequests == ["rotate-m01"], "the request stays for the daemon")
    }

    static func aFailedRotationSaysSo(_ method: String) async throws {
        let farm = try StatusFixture()
        let api = try Self.api(farm)
        async let daemon: Void = farm.act(rotating: "m01", to: nil, phase: "Error")
        let answer = await ControlAPITests.send(api, method, "/v1/link/" + Self.m01)
        try await daemon
        #expect(answer.status == 502 && answer.error == "RotationFailed" && answer.json?["phase"] == .string("Error"))
    }
}

@Suite struct ConstantTimeTests {
    @Test func linksAreFoundByComparingEveryToken() throws {
        let links = try StatusFixture().configuration().links
        #expect(ConstantTime.link(ChangeIPLinkTests.m01, in: links)?.modem == "m01")
        #expect(ConstantTime.link(String(ChangeIPLinkTests.m01.dropLast()), in: links) == nil)
        #expect(ConstantTime.link("", in: links) == nil)
    }
}

@Suite struct DaemonLivenessTests {
    /// The lock holder comes from /proc/locks by the state directory's device and inode (the
    /// daemon's lock is on the directory itself); waiters and other files do not count.
    @Test func theHolderIsReadFromProcLocks() throws {
        let farm = try StatusFixture(daemon: false)
        let id = try #require(StateLock.kernelID(of: farm.root))
        let other = "1: FLOCK  ADVISORY  WRITE 4242 fe:00:1 0 EOF\n2: POSIX  ADVISORY  WRITE 4243 \(id) 0 EOF\n"
        #expect(StateLock.holder(ofDirectory: farm.root, locks: other) == nil)
        #expect(StateLock.holder(ofDirectory: farm.root, locks: other + "3: FLOCK  ADVISORY  WRITE 4244 \(id) 0 EOF\n") == 4244)
        #expect(StateLock.holder(ofDirectory: farm.root, locks: "3: -> FLOCK  ADVISORY  WRITE 4245 \(id) 0 EOF\n") == nil)
        #expect(StateLock.holder(ofDirectory: farm.root) == nil, "nobody holds it for real")
        #expect(StateLock.holder(ofDirectory: farm.root + "/absent") == nil)
        let daemon = try StatusFixture(daemon: true)
        #expect(StateLock.holder(ofDirectory: daemon.root) == getpid(), "a real holder: the fixture's state store")
    }

    /// The kernel lists each CPU's locks newest first, so a daemon running for a while has its line
    /// after every lock other programs took since. Foundation's file readers stop after the first
    /// 4 KiB of a /proc file: the daemon was then reported gone and customers' change-IP links
    /// refused with 503 NoDaemon. Helpers pinned to every CPU take 100 newer locks each, so the
    /// holder's line is past the first 4 KiB whichever CPU's list it is on.
    @Test func theHolderIsFoundBehindMoreThanAPageOfNewerLocks() throws {
        let daemon = try StatusFixture(daemon: true)
        let script = """
            import fcntl, os, sys
            fds = [os.open(f"{sys.argv[1]}/{sys.argv[2]}-{i}", os.O_CREAT | os.O_RDWR) for i in range(100)]
            for fd in fds: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            print("locked", flush=True)
            sys.stdin.read()
            """
        var helpers: [(process: Process, stdin: Pipe)] = []
        defer {
            for helper in helpers {
                try? helper.stdin.fileHandleForWriting.close()
                helper.process.waitUntilExit()
            }
        }
        for cpu in 0..<sysconf(Int32(_SC_NPROCESSORS_ONLN)) {
            let process = Process(), stdin = Pipe(), stdout = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
            process.arguments = ["-c", String(cpu), "/usr/bin/python3", "-c", script, daemon.root, String(cpu)]
            process.standardInput = stdin
            process.standardOutput = stdout
            try process.run()
            helpers.append((process, stdin))
            #expect(String(decoding: stdout.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("locked"), "helper on CPU \(cpu)")
        }
        #expect(StateLock.holder(ofDirectory: daemon.root) == getpid())
    }
}
