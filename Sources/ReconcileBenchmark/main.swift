import Foundation

// reconcile-bench [N] [--passes P]: times planning and no-op passes (the median of P, default 20) on
//   simulated farms of N modems (default 10, 100 and 1000).
// reconcile-bench lab [N…] [--idle SECONDS] [--proxy-binary PATH]: the real daemon in labs of N
//   simulated modems (default 10 30 100; root), as JSON: cold converge, no-op pass wall and CPU,
//   processes, files and fsyncs per no-op pass, idle RSS and CPU (LabBenchmark).
// Hidden child modes serve the state-store tests, which need a real second process:
//   reconcile-bench hold-lock DIR     take DIR's state lock, print "locked", hold it until stdin closes
//   reconcile-bench write-loop FILE   rewrite FILE whole, forever, alternating two big versions
var arguments = Array(CommandLine.arguments.dropFirst())
/// Removes `name VALUE` from the arguments and returns VALUE.
@MainActor func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    defer { arguments.removeSubrange(index...(index + 1)) }
    return arguments[index + 1]
}
switch arguments.first {
case "hold-lock":
    exit(ChildModes.holdLock(directory: arguments.dropFirst().first ?? "."))
case "write-loop":
    exit(ChildModes.writeLoop(file: arguments.dropFirst().first ?? "target"))
case "lab":
    let idle = option("--idle").flatMap { Int($0) } ?? 60
    let proxy = option("--proxy-binary")
    let sizes = arguments.dropFirst().compactMap { Int($0) }
    exit(LabBenchmark.run(sizes: sizes.isEmpty ? [10, 30, 100] : sizes, idleSeconds: idle, proxy: proxy))
default:
    let passes = option("--passes").flatMap { Int($0) } ?? 20
    let sizes = arguments.compactMap { Int($0) }
    exit(await Benchmark.run(sizes: sizes.isEmpty ? [10, 100, 1000] : sizes, passes: passes))
}
