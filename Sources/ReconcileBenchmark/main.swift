import Foundation

// reconcile-bench: times planning and a no-op pass on simulated farms of 10, 100 and 1000 modems.
// Hidden child modes serve the state-store tests, which need a real second process:
//   reconcile-bench hold-lock DIR     take DIR's state lock, print "locked", hold it until stdin closes
//   reconcile-bench write-loop FILE   rewrite FILE whole, forever, alternating two big versions
let arguments = CommandLine.arguments.dropFirst()
switch arguments.first {
case "hold-lock":
    exit(ChildModes.holdLock(directory: arguments.dropFirst().first ?? "."))
case "write-loop":
    exit(ChildModes.writeLoop(file: arguments.dropFirst().first ?? "target"))
case nil:
    exit(await Benchmark.run(sizes: [10, 100, 1000]))
case let size?:
    exit(await Benchmark.run(sizes: [Int(size) ?? 10]))
}
