import Foundation

// reconcile-bench: times planning and a no-op pass on simulated farms of 10, 100 and 1000 modems.
// reconcile-bench lab [N…] [--idle SECONDS] [--proxy-binary PATH]: the real daemon in labs of N
//   simulated modems (default 10 30 100; root), as JSON: cold converge, no-op pass wall and CPU,
//   processes, files and fsyncs per no-op pass, idle RSS and CPU (LabBenchmark).
// Hidden child modes serve the state-store tests, which need a real second process:
//   reconcile-bench hold-lock DIR     take DIR's state lock, print "locked", hold it until stdin closes
//   reconcile-bench write-loop FILE   rewrite FILE whole, forever, alternating two big versions
let arguments = CommandLine.arguments.dropFirst()
switch arguments.first {
case "hold-lock":
    exit(ChildModes.holdLock(directory: arguments.dropFirst().first ?? "."))
case "write-loop":
    exit(ChildModes.writeLoop(file: arguments.dropFirst().first ?? "target"))
case "lab":
    var rest = Array(arguments.dropFirst())
    func option(_ name: String) -> String? {
        guard let index = rest.firstIndex(of: name), index + 1 < rest.count else { return nil }
        defer { rest.removeSubrange(index...(index + 1)) }
        return rest[index + 1]
    }
    let idle = option("--idle").flatMap { Int($0) } ?? 60
    let proxy = option("--proxy-binary")
    let sizes = rest.compactMap { Int($0) }
    exit(LabBenchmark.run(sizes: sizes.isEmpty ? [10, 30, 100] : sizes, idleSeconds: idle, proxy: proxy))
case nil:
    exit(await Benchmark.run(sizes: [10, 100, 1000]))
case let size?:
    exit(await Benchmark.run(sizes: [Int(size) ?? 10]))
}
