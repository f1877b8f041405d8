import Foundation
import Testing

/// `reconcile lab up/down` end to end, as root, against the real kernel: namespaces named
/// pf<pid> so that parallel runs never collide, and always taken down again.
@Suite(.serialized) struct LabTests {
    /// Outside CI a non-root run skips (with this reason); in CI (CI=true) it runs and fails without root.
    static let canRun = geteuid() == 0 || ProcessInfo.processInfo.environment["CI"] == "true"

    let name = "pf\(getpid())"
    var farm: String { name + "-farm" }
    var inet: String { name + "-inet" }
    let dir = NSTemporaryDirectory() + "pf\(getpid())-lab"

    @Test(.enabled(if: canRun, "needs root for network namespaces (runs and fails without root when CI=true)"))
    func upRoutesEveryModemToTheInternetAndDownRemovesEverything() throws {
        try #require(geteuid() == 0, "reconcile lab needs root")
        defer { forceCleanup() }

        let up = try lab("up", "--modems", "3")
        try #require(up.status == 0, "lab up failed: \(up.stderr)")
        #expect(try namespaces() == [farm, inet])
        #expect(try links(in: farm) == ["eth0", "lo", "wwan1", "wwan2", "wwan3"])
        let serverPid = try #require(Int32(String(contentsOfFile: dir + "/whatismyip.pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        let hostPid = try #require(Int32(String(contentsOfFile: dir + "/labhost.pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        // The host's mount namespace, seen through its /proc root: the modems' sysfs and nodes.
        #expect(FileManager.default.fileExists(atPath: "/proc/\(hostPid)/root/sys/class/usbmisc/cdc-wdm2"), "three modems in the lab's /sys")
        #expect(FileManager.default.fileExists(atPath: "/proc/\(hostPid)/root/dev/cdc-wdm2"), "and their control nodes in its /dev")
        #expect(!FileManager.default.fileExists(atPath: "/dev/cdc-wdm2") || FileManager.default.fileExists(atPath: "/sys/class/usbmisc/cdc-wdm2"),
                "nothing of the lab appears in the host's /dev")

        // What the reconciler will do for each modem: address, link up, own table, `from` rule.
        for modem in 1...3 {
            let address = "100.64.\(modem).7"
            try Subprocess.ip("-n", farm, "address", "add", address + "/24", "dev", "wwan\(modem)")
            try Subprocess.ip("-n", farm, "link", "set", "wwan\(modem)", "up")
            try Subprocess.ip("-n", farm, "route", "add", "default", "via", "100.64.\(modem).1", "dev", "wwan\(modem)", "table", "\(100 + modem)")
            try Subprocess.ip("-n", farm, "rule", "add", "from", address, "lookup", "\(100 + modem)", "priority", "\(100 + modem)")
        }
        for modem in 1...3 {
            #expect(try whatIsMyIP(from: "100.64.\(modem).7") == "100.64.\(modem).7")
        }
        #expect(try whatIsMyIP(from: nil) == "192.0.2.2", "the farm's own traffic leaves through its uplink eth0")
        let probe = try Subprocess.inNamespace(farm, "curl", "-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}", "http://198.51.100.10/generate_204")
        #expect(probe.stdout == "204")

        let again = try lab("up", "--modems", "3")
        #expect(again.status == 0, "a second lab up must succeed: \(again.stderr)")
        #expect(again.stdout.contains("pid \(serverPid),"), "the running server is kept")
        #expect(try whatIsMyIP(from: "100.64.2.7") == "100.64.2.7", "a second lab up disturbs nothing")

        let fewer = try lab("up", "--modems", "2")
        #expect(fewer.status == 0)
        #expect(try links(in: farm) == ["eth0", "lo", "wwan1", "wwan2"])
        #expect(try links(in: inet) == ["carrier1", "carrier2", "lo", "uplink0"])

        let down = try lab("down")
        #expect(down.status == 0, "lab down failed: \(down.stderr)")
        #expect(try namespaces().isEmpty)
        #expect(!isRunning(serverPid), "the what-is-my-IP server is stopped")
        #expect(!isRunning(hostPid), "the lab host is stopped")
        #expect(!FileManager.default.fileExists(atPath: dir))

        let downAgain = try lab("down")
        #expect(downAgain.status == 0)
        #expect(downAgain.stdout == "lab \(name): nothing to remove\n")
    }

    @Test(.enabled(if: canRun, "needs root for network namespaces (runs and fails without root when CI=true)"))
    func downCleansUpAfterAFailedUp() throws {
        try #require(geteuid() == 0, "reconcile lab needs root")
        defer { forceCleanup() }
        // The lab directory cannot be created under a regular file: `up` fails after the network is built.
        let blocker = dir + "-file"
        try #require(FileManager.default.createFile(atPath: blocker, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: blocker) }

        let up = try Subprocess.run(try Subprocess.reconcile, ["lab", "up", "--modems", "2", "--name", name, "--dir", blocker + "/lab"])
        #expect(up.status == 1)
        #expect(up.stderr.contains("cannot write \(blocker)/lab/whatismyip.py"))
        #expect(try namespaces() == [farm, inet])

        let down = try Subprocess.run(try Subprocess.reconcile, ["lab", "down", "--name", name, "--dir", blocker + "/lab"])
        #expect(down.status == 0, "lab down failed: \(down.stderr)")
        #expect(try namespaces().isEmpty)
    }

    @Test func badArgumentsAreRefusedBeforeAnythingIsBuilt() throws {
        let badName = try Subprocess.run(try Subprocess.reconcile, ["lab", "up", "--name", "../x"])
        #expect(badName.status == 1)
        #expect(badName.stderr.contains("lab name '../x' must be 1 to 32 letters, digits or '-'"))
        let tooMany = try Subprocess.run(try Subprocess.reconcile, ["lab", "up", "--modems", "255", "--name", name])
        #expect(tooMany.status == 1)
        #expect(tooMany.stderr.contains("--modems 255 is out of range: the lab has 1 to 254 modems"))
    }

    private func lab(_ arguments: String...) throws -> Finished {
        try Subprocess.run(try Subprocess.reconcile, ["lab"] + arguments + ["--name", name, "--dir", dir])
    }

    private func whatIsMyIP(from source: String?) throws -> String {
        let bind = source.map { ["--interface", $0] } ?? []
        return try Subprocess.run("/usr/bin/env", ["ip", "netns", "exec", farm, "curl", "-s", "-m", "3"] + bind + ["http://198.51.100.10/"]).stdout
    }

    /// Alive and not a zombie (an orphan's reaper may not have collected it yet).
    private func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z")
    }

    private func namespaces() throws -> [String] {
        try Subprocess.ip("netns", "list").stdout.split(whereSeparator: \.isNewline)
            .compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { $0.hasPrefix(name + "-") }.sorted()
    }

    private func links(in namespace: String) throws -> [String] {
        struct Link: Decodable { var ifname: String }
        let json = try Subprocess.ip("-n", namespace, "-json", "link", "show").stdout
        return try JSONDecoder().decode([Link].self, from: Data(json.utf8)).map(\.ifname).sorted()
    }

    /// Whatever a failing test left: our namespaces (and the processes in them) and our directory.
    private func forceCleanup() {
        _ = try? Subprocess.run(try Subprocess.reconcile, ["lab", "down", "--name", name, "--dir", dir])
        for namespace in [farm, inet] { _ = try? Subprocess.ip("netns", "delete", namespace) }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
