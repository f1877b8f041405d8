import Foundation
import Testing

/// The `reconcile` root command run as a real process against the simulated backend.
@Suite struct ReconcileCommandTests {
    static let alice = "cli-Alice-Secret-31f"
    static let bob = "cli-Bob-Secret-8e2"

    static let farm = """
        version: 1
        defaults:
          apn: internet
          proxy:
            users: [alice]
        ports:
          range: 20000-20999
        routing:
          tableBase: 100
          uidBase: 20000
        users:
          alice: { password: { env: PF_TEST_ALICE } }
          bob: { password: { env: PF_TEST_BOB } }
        modems:
          - serial: "860000000000001"
            name: m01
          - serial: "860000000000002"
            name: m02
            users: [alice, bob]

        """

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// A scratch directory (outside any git work tree) holding farm.yaml.
    static func scratch(_ farm: String = farm) throws -> String {
        let directory = NSTemporaryDirectory() + "proxyfarm-cli-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try farm.write(toFile: directory + "/farm.yaml", atomically: true, encoding: .utf8)
        return directory
    }

    static func reconcile(_ arguments: [String], in directory: String, bob: String = bob) throws -> Run {
        var binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.isExecutableFile(atPath: binary.appendingPathComponent("reconcile").path), binary.path != "/" {
            binary.deleteLastPathComponent()
        }
        let process = Process()
        process.executableURL = binary.appendingPathComponent("reconcile")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        // A repository checkout names its farm through the environment (README, "Where the farm is").
        process.environment = ["PF_TEST_ALICE": alice, "PF_TEST_BOB": bob, "PATH": "/usr/bin:/bin",
                               "PROXYFARM_FILE": "farm.yaml", "PROXYFARM_STATE": "state"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func dryRunApplyAndDryRunAgain() throws {
        let directory = try Self.scratch()
        let plan = try Self.reconcile(["--dry-run", "--simulated"], in: directory)
        #expect(plan.status == 2, "\(plan.stderr)")
        #expect(plan.stderr.contains("simulated farm (no hardware)"))
        #expect(plan.stdout.contains("m01:\n  + set raw-IP data format — device and kernel do not both use raw-IP\n  + connect (apn internet, ipv4) — not connected\n"))
        #expect(plan.stdout.hasSuffix("Plan: 18 to add, 5 to change, 0 to remove, 0 to restart.\n"), "\(plan.stdout)")
        #expect(!plan.stdout.contains("\u{1B}["), "no colour when stdout is not a terminal")
        let apply = try Self.reconcile(["--simulated", "--batch", "1"], in: directory)
        #expect(apply.status == 0, "\(apply.stderr)")
        #expect(apply.stdout.contains("farm converged"))
        let again = try Self.reconcile(["--dry-run", "--simulated"], in: directory)
        #expect(again.status == 0)
        #expect(again.stdout == "No changes. The farm matches farm.yaml.\n")
        let changed = try Self.reconcile(["--dry-run", "--simulated"], in: directory, bob: "cli-Bob-New-77")
        #expect(changed.status == 2)
        #expect(changed.stdout.contains("m02:\n  ~ write proxy config — user bob's password changed\n  ~ reload proxy (pid "))
        #expect(!changed.stdout.contains("m01:"))
        for run in [plan, apply, again, changed] {
            for secret in [Self.alice, Self.bob, "cli-Bob-New-77"] {
                #expect(!run.stdout.contains(secret) && !run.stderr.contains(secret))
            }
        }
        let state = directory + "/state"
        let files = FileManager.default.enumerator(atPath: state)?.compactMap { $0 as? String } ?? []
        for file in files where file != "simulated-farm.json" {
            let text = (try? String(contentsOfFile: state + "/" + file, encoding: .utf8)) ?? ""
            #expect(!text.contains(Self.alice) && !text.contains(Self.bob), "secret in \(file)")
        }
        let mode = try FileManager.default.attributesOfItem(atPath: state + "/simulated-farm.json")[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func jsonPlanAndRevisionOfAFileOutsideGit() throws {
        let directory = try Self.scratch()
        let run = try Self.reconcile(["--dry-run", "--simulated", "--output", "json"], in: directory)
        #expect(run.status == 2)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let counts = try #require(json["counts"] as? [String: Int])
        #expect(counts == ["add": 18, "change": 5, "remove": 0, "restart": 0], "2 configs, 2 guard lanes, the fence")
        let actions = try #require(json["actions"] as? [[String: Any]])
        #expect(actions.first?["modem"] as? String == "m01")
        #expect(actions.contains { $0["action"] as? String == "connect" && $0["reason"] as? String == "not connected" })
        let sha = Process()
        sha.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        sha.arguments = [directory + "/farm.yaml"]
        let out = Pipe()
        sha.standardOutput = out
        try sha.run()
        sha.waitUntilExit()
        let expected = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
        #expect(json["revision"] as? String == "sha256:" + expected)
    }

    @Test func secondReconcilerOnTheSameStateIsRefusedNamingTheHolder() throws {
        let directory = try Self.scratch()
        try FileManager.default.createDirectory(atPath: directory + "/state", withIntermediateDirectories: true)
        // A real holder of the reconciler's lock: flock(2) on the state directory itself (no pid
        // file: the refusal finds the holder in /proc/locks).
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.arguments = ["-c", """
            import fcntl, os, sys
            fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX)
            print("locked", flush=True); sys.stdin.read()
            """, directory + "/state"]
        let input = Pipe(), output = Pipe()
        holder.standardInput = input
        holder.standardOutput = output
        try holder.run()
        defer {
            kill(holder.processIdentifier, SIGKILL)
            holder.waitUntilExit()
        }
        _ = output.fileHandleForReading.availableData
        let run = try Self.reconcile(["--simulated"], in: directory)
        #expect(run.status == 1)
        #expect(run.stderr.contains("held by another reconciler (pid \(holder.processIdentifier))"), "\(run.stderr)")
    }

    /// Without --simulated the real drivers look at this machine, which has no modems: a dry run
    /// (which changes nothing, so it is safe on the test host) would only close the lanes of the
    /// missing modems, and says they are missing.
    @Test func realDriversOnAMachineWithoutModemsOnlyCloseTheirLanes() throws {
        let run = try Self.reconcile(["--dry-run", "--output", "json"], in: try Self.scratch())
        #expect(run.status == 2, "\(run.stderr)")
        #expect(!run.stderr.contains("simulated"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let actions = try #require(json["actions"] as? [[String: Any]]).compactMap { $0["action"] as? String }
        #expect(Set(actions).isSubset(of: ["set-guard-lane", "set-guard-fence", "add-rule", "add-route"]), "\(actions)")
        #expect(actions.filter { $0 == "set-guard-lane" }.count == 2)
        let blocked = try #require(json["blocked"] as? [String: String])
        #expect(blocked.keys.sorted() == ["m01", "m02"] && blocked.values.allSatisfy { $0.hasPrefix("not plugged in") }, "\(blocked)")
    }

    @Test func invalidFarmFileFailsWithLineAndColumn() throws {
        let run = try Self.reconcile(["--dry-run", "--simulated"], in: try Self.scratch("version: 1\nmodemz: []\n"))
        #expect(run.status == 1)
        #expect(run.stderr.contains("farm.yaml:2:1: error:"), "\(run.stderr)")
    }
}
