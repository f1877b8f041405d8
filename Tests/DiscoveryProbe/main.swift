import Drivers
import Foundation

// Discovery as a separate process, so that the tests can run it inside an umockdev testbed
// (LD_PRELOAD only takes effect at process start). Output is JSON, one document per line:
//   DiscoveryProbe scan               the plugged modems, then exit
//   DiscoveryProbe watch <quiet-ms>  `watching` once subscribed, then the modems after each wake-up

func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func modemsLine() throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return String(decoding: try encoder.encode(UDevModemInventory().scan()), as: UTF8.self)
}

let arguments = CommandLine.arguments.dropFirst()
do {
    switch (arguments.first, arguments.dropFirst().first.flatMap { Int($0) }) {
    case ("scan", nil):
        emit(try modemsLine())
    case ("watch", let quietPeriod?):
        let wakeUps = try UDevMonitor(quietPeriod: .milliseconds(quietPeriod)).wakeUps()
        emit("watching")
        for await _ in wakeUps {
            emit(try modemsLine())
        }
    default:
        FileHandle.standardError.write(Data("usage: DiscoveryProbe scan | watch <quiet-ms>\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("DiscoveryProbe: \(error)\n".utf8))
    exit(1)
}
