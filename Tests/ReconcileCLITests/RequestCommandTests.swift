import Foundation
import Testing

@Suite struct RequestCommandTests {
    static let farm = """
        version: 1
        defaults: { apn: internet, proxy: { users: [alice] } }
        users: { alice: { password: { value: "plain-Test-Password-1" } } }
        ports: { range: 20000-20999 }
        routing: { tableBase: 100, uidBase: 20000 }
        modems:
          - { serial: "860000000000001", name: m01 }
          - { serial: "860000000000002", name: m02 }
          - { serial: "860000000000003", name: m03 }
          - { serial: "860000000000004", name: m04 }

        """

    /// A scratch directory holding farm.yaml (m01…m04); its state directory is `state/` there.
    static func scratch() throws -> String {
        let directory = NSTemporaryDirectory() + "pf\(getpid())-requests-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try farm.write(toFile: directory + "/farm.yaml", atomically: true, encoding: .utf8)
        return directory
    }

    @Test func rotateAndResetFileRequestsForTheDaemon() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = directory + "/state"

        let rotate = try Subprocess.run(try Subprocess.reconcile, ["rotate", "m01", "m02", "--file", directory + "/farm.yaml", "--state", state])
        let reset = try Subprocess.run(try Subprocess.reconcile, ["reset", "m03", "--file", directory + "/farm.yaml", "--state", state])

        #expect(rotate.status == 0, "\(rotate.stderr)")
        #expect(reset.status == 0, "\(reset.stderr)")
        #expect(rotate.stdout.hasPrefix("rotate m01: filed in \(state)/requests;"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: state + "/requests").sorted() == ["reset-m03", "rotate-m01", "rotate-m02"])
    }

    @Test func aRelativeStateDirectoryIsRelativeToTheWorkingDirectory() throws {
        let work = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: work) }

        let result = try Subprocess.run(try Subprocess.reconcile, ["reset", "m04", "--state", "farm/state"], in: work)

        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: work + "/farm/state/requests/reset-m04"))
    }

    @Test func aBadNameFilesNothing() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = directory + "/state"

        let result = try Subprocess.run(try Subprocess.reconcile, ["rotate", "m01", "../etc", "--state", state], in: directory)

        #expect(result.status == 1)
        #expect(result.stderr.contains("'../etc' is not a modem name"))
        #expect(!FileManager.default.fileExists(atPath: state + "/requests/rotate-m01"))
    }

    @Test func aModemFarmYamlDoesNotListIsRefusedNamingTheListedOnes() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let result = try Subprocess.run(try Subprocess.reconcile, ["rotate", "m01", "m99"], in: directory)

        #expect(result.status == 1)
        #expect(result.stderr.contains("lists no modem m99; it lists m01, m02, m03, m04. Nothing was filed."), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/state"))
    }

    /// From a directory with no farm (and no farm in the environment or installed), a request
    /// says so and creates nothing — not a stray ./state/requests.
    @Test func withoutAFarmNothingIsFiled() throws {
        let directory = NSTemporaryDirectory() + "pf\(getpid())-nofarm-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        for arguments in [["rotate", "m01"], ["reset", "m01", "--now"], ["--dry-run"], ["validate"]] {
            let result = try Subprocess.run(try Subprocess.reconcile, arguments, in: directory)
            #expect(result.status == 1, "\(arguments)")
            #expect(result.stderr.contains("no farm at farm.yaml"), "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("nothing was changed"), "\(arguments)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test func versionIsPrinted() throws {
        let result = try Subprocess.run(try Subprocess.reconcile, ["--version"])
        #expect(result.status == 0)
        #expect(result.stdout == "0.1.0\n")
    }
}
