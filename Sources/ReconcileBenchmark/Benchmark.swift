import Drivers
import Foundation
import Logging
import Reconciler
import SimulatedDrivers
import Spec

/// Times, per farm size, the pure planner on a converged farm and a whole pass that finds nothing to do.
enum Benchmark {
    struct Result: Encodable {
        var modems: Int
        var planMillis: Double
        /// The median of `passes` no-op passes (one pass is at the mercy of whatever else runs).
        var noopPassMillis: Double
        /// Their median CPU time (every thread of the process), which other load hardly changes.
        var noopPassCPUMillis: Double
        var passes: Int
    }

    static func run(sizes: [Int], passes: Int) async -> Int32 {
        var results: [Result] = []
        for size in sizes {
            do {
                results.append(try await measure(modems: size, passes: passes))
            } catch {
                FileHandle.standardError.write(Data("reconcile-bench: \(size) modems: \(error)\n".utf8))
                return 1
            }
        }
        return printJSON(results)
    }

    /// Prints the results as sorted, indented JSON; exit status 0, or 1 when they cannot be encoded.
    static func printJSON(_ results: some Encodable) -> Int32 {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let json = try? encoder.encode(results) else { return 1 }
        print(String(decoding: json, as: UTF8.self))
        return 0
    }

    static func measure(modems count: Int, passes: Int) async throws -> Result {
        let spec = FarmSpec(
            portRange: 20000...29999, routing: RoutingSettings(tableBase: 2000, uidBase: 20000), users: [User(name: "alice", password: .value("bench-password"))],
            modems: (1...count).map { n in
                ModemSpec(serial: "86\(String(format: "%013d", n))", name: String(format: "m%04d", n), apn: "internet",
                          proxy: ProxySettings(users: ["alice"]), rotation: .every(.seconds(3600)))
            })
        let farm = SimulatedFarm()
        for modem in spec.modems { await farm.plug(serial: modem.serial) }
        let directory = NSTemporaryDirectory() + "reconcile-bench-\(getpid())-\(count)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(root: directory)
        let reconciler = FarmReconciler(drivers: farm.drivers(), settings: ExecutorSettings(batch: 5),
                                        logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        let secrets: SecretResolver = { source in
            if case .value(let value) = source { return .success(value) }
            return .failure(SecretFailure("only values in the benchmark"))
        }
        // The first pass connects everything; the second takes the first health probes. The third is the no-op.
        _ = try await reconciler.apply(spec: spec, store: store, secrets: secrets, revision: "bench")
        let (first, _) = try await reconciler.apply(spec: spec, store: store, secrets: secrets, revision: "bench")
        guard first.converged else { throw BenchmarkError(message: "the farm did not converge: \(first.remaining.actions.prefix(3)) \(first.remaining.deferred.prefix(3)) \(first.applied.filter { $0.failure != nil }.prefix(3))") }
        let inputs = try reconciler.inputs(spec: spec, store: store, secrets: secrets, revision: "bench")
        let clock = ContinuousClock()
        let plan = clock.measure {
            _ = Planner.plan(desired: inputs.desired, observed: first.observed, memory: first.memory, now: Date())
        }
        var times: [Duration] = []
        var cpu: [Double] = []
        for _ in 0..<max(passes, 1) {
            var noop: PassResult?
            let cpuBefore = ProcessCPU.seconds() * 1000
            times.append(try await clock.measure {
                noop = try await reconciler.apply(spec: spec, store: store, secrets: secrets, revision: "bench").0
            })
            cpu.append(ProcessCPU.seconds() * 1000 - cpuBefore)
            guard noop?.applied.isEmpty == true else { throw BenchmarkError(message: "a pass after convergence was not a no-op") }
        }
        return Result(modems: count, planMillis: milliseconds(plan), noopPassMillis: milliseconds(times.sorted()[times.count / 2]),
                      noopPassCPUMillis: cpu.sorted()[cpu.count / 2].rounded(toPlaces: 3), passes: times.count)
    }

    static func milliseconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return (Double(parts.seconds) * 1000 + Double(parts.attoseconds) / 1e15).rounded(toPlaces: 3)
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let factor = pow(10, Double(places))
        return (self * factor).rounded() / factor
    }
}
