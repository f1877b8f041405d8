import Foundation
import Reconciler

/// `reconcile-bench lab [N…]`: the real daemon in a lab (`reconcile lab`, root) of N simulated
/// modems, measured from outside as an operator would: how long a cold start takes until every
/// modem is Ready, what a pass that finds nothing to do costs (wall and CPU, from the daemon's
/// own per-pass log metadata), how many processes, written files and fsyncs such passes cause
/// (counted with strace), and the idle daemon's RSS (and the part of it touched) and CPU over a
/// minute, with probes every 30 s.
enum LabBenchmark {
    struct Result: Encodable {
        var modems: Int
        var proxy: String
        /// `static` when the daemon carries the Swift runtime, Foundation and ICU inside
        /// (`--static-swift-stdlib`, the documented release build), `shared` when it maps them
        /// from the toolchain: about 3 MB of RSS apart, so every result says which it measured.
        var swiftRuntime: String
        var coldConvergeSeconds: Double
        /// Passes of the idle minute (timer passes: health probes due).
        var probePasses: Int
        var probePassWallMillis: Double
        var probePassCPUMillis: Double
        /// Passes woken by farm.yaml rewritten unchanged, with no probe due (a pass that a probe
        /// also woke is left out).
        var noopPasses: Int
        var noopPassWallMillis: Double
        var noopPassCPUMillis: Double
        var noopPassMaxWallMillis: Double
        var countedPasses: Int
        var processesSpawnedPerPass: Double
        var filesWrittenPerPass: Double
        var fsyncsPerPass: Double
        var idleSeconds: Double
        var idleCPUPercent: Double
        var idleRSSMegabytes: Double
        /// The part of the RSS that is the daemon's own (RssAnon: heap, stacks, written data); the
        /// rest is program and shared-library pages, shared with other processes and reclaimable.
        var idleOwnMegabytes: Double
        /// What the daemon actually used while idle: pages it touched during the idle minute
        /// (smaps `Referenced`, cleared at the minute's start). The rest of the RSS was touched at
        /// start-up or mapped along with touched pages (fault-around), clean and reclaimable.
        var idleTouchedMegabytes: Double
    }

    static func run(sizes: [Int], idleSeconds: Int, proxy: String?) -> Int32 {
        var results: [Result] = []
        for size in sizes {
            let lab = Lab(modems: size, proxy: proxy)
            defer { lab.down() }
            do {
                results.append(try lab.measure(idleSeconds: idleSeconds))
            } catch {
                FileHandle.standardError.write(Data("reconcile-bench lab: \(size) modems: \(error)\n\(lab.logTail)\n".utf8))
                return 1
            }
        }
        return Benchmark.printJSON(results)
    }

    /// One lab, named after this process so that it never meets another.
    final class Lab {
        let modems: Int
        let proxy: String?
        let name: String
        let directory: String
        var log: String { directory + "/daemon.log" }
        private var daemon: Process?

        init(modems: Int, proxy: String?) {
            self.modems = modems
            self.proxy = proxy
            name = "pfb\(getpid())n\(modems)"
            directory = NSTemporaryDirectory() + name
        }

        var logTail: String { String(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").suffix(2000)) }

        func measure(idleSeconds: Int) throws -> Result {
            try reconcile(["lab", "up", "--modems", String(modems)] + labArguments + (proxy.map { ["--proxy-binary", $0] } ?? []), expect: [0])
            try reconcile(runArguments + ["--dry-run"], expect: [2])
            // Probes every 30 s, as the targets assume; no rotation while measuring.
            let farmFile = directory + "/farm.yaml"
            let farm = try String(contentsOfFile: farmFile, encoding: .utf8).replacingOccurrences(of: "interval: 5s", with: "interval: 30s")
            try farm.write(toFile: farmFile, atomically: true, encoding: .utf8)

            let started = ContinuousClock.now
            let daemon = try spawnDaemon()
            let deadline = started + .seconds(120 + modems)
            while !allReady() {
                guard daemon.isRunning, ContinuousClock.now < deadline else { throw BenchmarkError(message: "the lab did not converge") }
                usleep(20_000)
            }
            let cold = LabBenchmark.seconds(ContinuousClock.now - started)
            // Let the last actions of the cold start settle into a converged pass.
            try waitForPass(after: logSize(), within: .seconds(90))

            let idleStart = logSize()
            let cpuBefore = try cpuSeconds(daemon.processIdentifier)
            try forgetTouchedPages(daemon.processIdentifier)
            let idleClock = ContinuousClock.now
            sleep(UInt32(idleSeconds))
            let idleWall = LabBenchmark.seconds(ContinuousClock.now - idleClock)
            let cpuAfter = try cpuSeconds(daemon.processIdentifier)
            let memory = try residentMegabytes(daemon.processIdentifier)
            let idlePasses = passes(since: idleStart)
            guard idlePasses.actions == 0 else { throw BenchmarkError(message: "\(idlePasses.actions) actions while idle: not a converged lab") }

            let wokenStart = logSize()
            try wake(times: 5)
            let wokenPasses = passes(since: wokenStart)
            guard wokenPasses.actions == 0 else { throw BenchmarkError(message: "\(wokenPasses.actions) actions in woken passes: not a converged lab") }
            // A probe falling due during the wake-ups brings a pass of its own (or joins one): not a no-op.
            let woken = wokenPasses.costs.filter { $0.reasons == "farm.yaml changed" }
            let counted = try countSyscalls(daemon.processIdentifier)
            return Result(
                modems: modems, proxy: proxy ?? "lab default", swiftRuntime: try swiftRuntime(daemon.processIdentifier),
                coldConvergeSeconds: cold.rounded(toPlaces: 2),
                probePasses: idlePasses.costs.count,
                probePassWallMillis: average(idlePasses.costs.map(\.wall)), probePassCPUMillis: average(idlePasses.costs.map(\.cpu)),
                noopPasses: woken.count,
                noopPassWallMillis: average(woken.map(\.wall)), noopPassCPUMillis: average(woken.map(\.cpu)),
                noopPassMaxWallMillis: woken.map(\.wall).max() ?? 0,
                countedPasses: counted.passes,
                processesSpawnedPerPass: per(counted.spawned, counted.passes), filesWrittenPerPass: per(counted.written, counted.passes),
                fsyncsPerPass: per(counted.fsyncs, counted.passes),
                idleSeconds: idleWall.rounded(toPlaces: 1), idleCPUPercent: ((cpuAfter - cpuBefore) / idleWall * 100).rounded(toPlaces: 2),
                idleRSSMegabytes: memory.rss.rounded(toPlaces: 1), idleOwnMegabytes: memory.own.rounded(toPlaces: 1),
                idleTouchedMegabytes: memory.touched.rounded(toPlaces: 1))
        }

        func down() {
            if let daemon, daemon.isRunning {
                daemon.terminate()
                daemon.waitUntilExit()
            }
            _ = try? reconcile(["lab", "down"] + labArguments, expect: [0])
            // The daemon's log and the strace output are ours.
            try? FileManager.default.removeItem(atPath: directory)
        }

        private var labArguments: [String] { ["--name", name, "--dir", directory] }
        private var runArguments: [String] { ["lab", "run"] + labArguments + ["--rotate-every", "24h", "--"] }

        private func spawnDaemon() throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try LabBenchmark.reconcilePath())
            process.arguments = runArguments + ["daemon"]
            _ = FileManager.default.createFile(atPath: log, contents: nil)   // a failure throws just below
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
            daemon = process
            return process
        }

        private func allReady() -> Bool {
            (1...modems).allSatisfy { number in
                let name = number < 10 ? "m0\(number)" : "m\(number)"
                guard let data = FileManager.default.contents(atPath: "\(directory)/state/status/modems/\(name).json"),
                      let status = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
                return status["phase"] as? String == "Ready"
            }
        }

        private func logSize() -> Int { FileManager.default.contents(atPath: log)?.count ?? 0 }

        /// The passes that ended in the log after `offset`: why each ran and its cost, and how many
        /// actions ran.
        private func passes(since offset: Int) -> (costs: [(reasons: String, wall: Double, cpu: Double)], actions: Int) {
            let data = FileManager.default.contents(atPath: log) ?? Data()
            let text = String(decoding: data.dropFirst(offset), as: UTF8.self)
            var costs: [(String, Double, Double)] = []
            var actions = 0
            var reasons = ""
            for line in text.split(separator: "\n") {
                if line.contains("[Reconciler]") { actions += 1 }
                if let range = line.range(of: "pass: ") { reasons = String(line[range.upperBound...]) }
                guard let wall = value(of: "passMs", in: line), let cpu = value(of: "cpuMs", in: line) else { continue }
                costs.append((reasons, wall, cpu))
            }
            return (costs, actions)
        }

        private func value(of key: String, in line: Substring) -> Double? {
            guard let range = line.range(of: key + "=") else { return nil }
            return Double(line[range.upperBound...].prefix { $0.isNumber || $0 == "." })
        }

        private func waitForPass(after offset: Int, within limit: Duration) throws {
            let deadline = ContinuousClock.now + limit
            while passes(since: offset).costs.isEmpty {
                guard ContinuousClock.now < deadline else { throw BenchmarkError(message: "no pass ended within \(limit)") }
                usleep(50_000)
            }
        }

        /// Rewrites farm.yaml unchanged, which wakes the daemon for a pass, every 3 s.
        private func wake(times: Int) throws {
            let farmFile = URL(fileURLWithPath: directory + "/farm.yaml")
            let farm = try Data(contentsOf: farmFile)
            for _ in 0..<times {
                try farm.write(to: farmFile)
                sleep(3)
            }
        }

        /// strace on the daemon while passes run — rewriting farm.yaml unchanged wakes it, and
        /// probes fall due — counting process starts, files opened for writing, renames and fsyncs.
        private func countSyscalls(_ pid: Int32) throws -> (passes: Int, spawned: Int, written: Int, fsyncs: Int) {
            let output = directory + "/strace.out"
            let strace = Process()
            strace.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
            strace.arguments = ["-f", "-qq", "-o", output, "-e", "trace=execve,fsync,fdatasync,rename,renameat,renameat2,openat,open,creat", "-p", String(pid)]
            strace.standardError = FileHandle.nullDevice
            try strace.run()
            sleep(2)
            let start = logSize()
            try wake(times: 5)
            sleep(2)
            strace.interrupt()
            strace.waitUntilExit()
            let counted = passes(since: start)
            guard counted.actions == 0 else { throw BenchmarkError(message: "\(counted.actions) actions while counting: not a converged lab") }
            let lines = ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n")
            let spawned = lines.filter { $0.contains("execve(") && !$0.contains("= -1") }.count
            let fsyncs = lines.filter { $0.contains("fsync(") || $0.contains("fdatasync(") }.count
            // A file written whole is a temporary file opened and then renamed over it: one file,
            // counted at its rename. A file opened for writing in place counts at its open.
            let written = lines.filter { line in
                (line.contains("open") && (line.contains("O_WRONLY") || line.contains("O_RDWR") || line.contains("O_CREAT"))
                    && !line.contains("\"/dev/") && !line.contains("\"/proc/") && !line.contains("= -1") && !line.contains("/.tmp-"))
                    || (line.contains("rename") && !line.contains("= -1"))
            }.count
            return (counted.costs.count, spawned, written, fsyncs)
        }

        @discardableResult
        private func reconcile(_ arguments: [String], expect: Set<Int32>) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try LabBenchmark.reconcilePath())
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard expect.contains(process.terminationStatus) else {
                throw BenchmarkError(message: "reconcile \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
            }
            return process.terminationStatus
        }
    }

    /// `reconcile` next to this executable (both are products of the same build).
    static func reconcilePath() throws -> String {
        let me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        return (me as NSString).deletingLastPathComponent + "/reconcile"
    }

    static func procText(_ path: String) throws -> String {
        guard let text = WholeFile.text(path) else { throw BenchmarkError(message: "cannot read \(path)") }
        return text
    }

    /// utime + stime of a process, in seconds.
    static func cpuSeconds(_ pid: Int32) throws -> Double {
        let stat = try procText("/proc/\(pid)/stat")
        guard let close = stat.lastIndex(of: ")") else { throw BenchmarkError(message: "unreadable /proc/\(pid)/stat") }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw BenchmarkError(message: "unreadable /proc/\(pid)/stat")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// VmRSS and RssAnon of /proc/PID/status; Referenced of /proc/PID/smaps_rollup (pages touched
    /// since `forgetTouchedPages`).
    static func residentMegabytes(_ pid: Int32) throws -> (rss: Double, own: Double, touched: Double) {
        let status = try procText("/proc/\(pid)/status")
        let rollup = try procText("/proc/\(pid)/smaps_rollup")
        func megabytes(_ key: String, in text: String) throws -> Double {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }),
                  let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") else { throw BenchmarkError(message: "no \(key) for \(pid)") }
            return kilobytes / 1024
        }
        return (try megabytes("VmRSS", in: status), try megabytes("RssAnon", in: status), try megabytes("Referenced", in: rollup))
    }

    /// `shared` when the process maps the toolchain's libswiftCore, `static` when it does not.
    static func swiftRuntime(_ pid: Int32) throws -> String {
        let maps = try procText("/proc/\(pid)/maps")
        return maps.contains("/libswiftCore.so") ? "shared" : "static"
    }

    /// Clears the referenced bits of every page of the process, so that smaps counts only pages
    /// touched from now on.
    static func forgetTouchedPages(_ pid: Int32) throws {
        do {
            try "1".write(toFile: "/proc/\(pid)/clear_refs", atomically: false, encoding: .utf8)
        } catch {
            throw BenchmarkError(message: "cannot clear /proc/\(pid)/clear_refs: \(error)")
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

private func average(_ values: [Double]) -> Double {
    values.isEmpty ? 0 : (values.reduce(0, +) / Double(values.count)).rounded(toPlaces: 2)
}

private func per(_ count: Int, _ passes: Int) -> Double {
    passes == 0 ? Double(count) : (Double(count) / Double(passes)).rounded(toPlaces: 2)
}
