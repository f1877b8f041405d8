import Drivers
import Foundation
import Reconciler

// Discovery as a separate process, so that the tests can run it inside an umockdev testbed
// (LD_PRELOAD only takes effect at process start). Output is JSON, one document per line:
//   DiscoveryProbe scan               the plugged modems, then exit
//   DiscoveryProbe watch <quiet-ms>  `watching` once subscribed, then the modems after each wake-up (a scan is kept until udev reports a change)

func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func line(_ modems: [PluggedModem]) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return String(decoding: try encoder.encode(modems), as: UTF8.self)
}

let arguments = CommandLine.arguments.dropFirst()
do {
    switch (arguments.first, arguments.dropFirst().first.flatMap { Int($0) }) {
    case ("scan", nil):
        emit(try line(UDevModemInventory().scan()))
    case ("watch", let quietPeriod?):
        // As the daemon does: the inventory keeps its scan until the monitor sees an event.
        let changes = UDevChanges()
        let inventory = UDevModemInventory(changes: changes, maximumAge: .seconds(3600))
        let wakeUps = try UDevMonitor(quietPeriod: .milliseconds(quietPeriod), changes: changes).wakeUps()
        _ = try await inventory.pluggedModems()
        emit("watching")
        for await _ in wakeUps {
            emit(try line(await inventory.pluggedModems()))
        }
    default:
        FileHandle.standardError.write(Data("usage: DiscoveryProbe scan | watch <quiet-ms>\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("DiscoveryProbe: \(error)\n".utf8))
    exit(1)
}
