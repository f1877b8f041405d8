import ArgumentParser
import Foundation
import ModemSimulator
import Reconciler

/// `reconcile lab host` (started by `lab up`, not by hand): the long-lived process that owns the
/// lab's umockdev testbed and serves one simulated modem behind each cdc-wdm node. It runs under
/// `umockdev-wrapper` and takes commands on a unix socket in the lab directory (`ControlSocket`, `LabRack.perform`).
struct LabHost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host", abstract: "Host the lab's simulated modems (started by `lab up`).", shouldDisplay: false)

    @OptionGroup var lab: LabOptions

    @Option(help: "Number of modems to plug in at start.")
    var modems = 3

    func run() throws {
        _ = try LabTopology(name: lab.name, modems: modems)
        let files = lab.files
        let testbed = try UMockdevTestbed()
        // umockdev does not create the targets of `L:` links; libqmi resolves the driver link.
        try FileManager.default.createDirectory(atPath: testbed.rootDirectory + "/sys/bus/usb/drivers/qmi_wwan",
                                                withIntermediateDirectories: true)
        let rack = LabRack(testbed: testbed)
        for number in 1...modems { try rack.plug(number) }
        let server = try ControlSocket(listeningAt: files.controlSocket)
        let termination = Self.removeTestbedOnTermination(root: testbed.rootDirectory, socket: files.controlSocket)
        // Written last: its presence tells `lab up` that the modems are plugged and commands are taken.
        try LabFiles.write(testbed.rootDirectory + "\n", to: files.umockdevDirectory)
        withExtendedLifetime(termination) {
            server.serve { line in
                do {
                    try rack.perform(line)
                    return "ok"
                } catch {
                    return "error \(error)"
                }
            }
        }
    }

    /// SIGTERM (from `lab down`) removes the testbed's directory, which umockdev only does on a
    /// normal teardown, and the socket.
    private static func removeTestbedOnTermination(root: String, socket: String) -> DispatchSourceSignal {
        signal(SIGTERM, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
        source.setEventHandler {
            try? FileManager.default.removeItem(atPath: root)
            unlink(socket)
            Glibc.exit(0)
        }
        source.resume()
        return source
    }
}

/// The modems plugged into the testbed and their simulators; commands come one at a time.
final class LabRack: @unchecked Sendable {
    private let testbed: UMockdevTestbed
    private var simulators: [Int: (hardware: LabModemHardware, modem: SimulatedModem)] = [:]
    /// The next cdc-wdm number for a replugged modem: above any a lab starts with.
    private var nextNode = LabTopology.maximumModems
    private var pluggedBefore: Set<Int> = []

    init(testbed: UMockdevTestbed) { self.testbed = testbed }

    /// Adds the modem's devices (umockdev sends their `add` uevents) and serves its node.
    func plug(_ number: Int) throws {
        guard simulators[number] == nil else { throw TestbedError("modem \(number) is already plugged") }
        var hardware = LabModemHardware(number: number)
        if pluggedBefore.contains(number) {
            hardware.node = nextNode
            nextNode += 1
        }
        try testbed.add(hardware.description)
        let modem = SimulatedModem(hardware.simulatorConfiguration)
        try modem.serve(fd: try testbed.deviceDescriptor(hardware.controlNode))
        simulators[number] = (hardware, modem)
        pluggedBefore.insert(number)
    }

    /// Sends `remove` for each of the modem's devices, deepest first, before removing them
    /// (docs/lab.md: a removed device can no longer be announced), then stops its simulator.
    func unplug(_ number: Int) throws {
        guard let (hardware, modem) = simulators.removeValue(forKey: number) else { throw TestbedError("modem \(number) is not plugged") }
        for device in hardware.devicesDeepestFirst { try testbed.uevent(device, "remove") }
        try testbed.remove(hardware.usbPath)
        modem.stop()
    }

    /// `plug N`, `unplug N`, `fault N none|no-answer|gone`.
    func perform(_ line: String) throws {
        let words = line.split(separator: " ").map(String.init)
        guard words.count >= 2, let number = Int(words[1]) else { throw TestbedError("unreadable command '\(line)'") }
        switch (words[0], words.dropFirst(2).first) {
        case ("plug", nil): try plug(number)
        case ("unplug", nil): try unplug(number)
        case ("fault", let fault?):
            guard let modem = simulators[number]?.modem else { throw TestbedError("modem \(number) is not plugged") }
            switch fault {
            case "none": modem.inject(nil)
            case "no-answer": modem.inject(.noAnswer(includingControl: true))
            case "gone": modem.inject(.gone)
            default: throw TestbedError("unknown fault '\(fault)': none, no-answer or gone")
            }
        default: throw TestbedError("unknown command '\(line)': plug N, unplug N, fault N none|no-answer|gone")
        }
    }
}
