import ArgumentParser
import Foundation
import ModemSimulator
import Reconciler

/// `reconcile lab host` (started by `lab up`, not by hand): the long-lived process that owns the
/// lab's simulated hardware and serves one simulated modem behind each cdc-wdm node. It runs in
/// the farm's network namespace and in a mount namespace of its own (`ip netns exec` makes one),
/// where its `DeviceTestbed` puts the modems' /sys, /dev and /run/udev; `lab run` joins both
/// namespaces. It takes commands on a unix socket in the lab directory (`ControlSocket`, `LabRack.perform`).
struct LabHost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host", abstract: "Host the lab's simulated modems (started by `lab up`).", shouldDisplay: false)

    @OptionGroup var lab: LabOptions

    @Option(help: "The modems to plug in at start, by number (e.g. 4,5,6).")
    var modems = "1,2,3"

    func run() throws {
        let numbers = modems.split(separator: ",").compactMap { Int($0) }
        guard !numbers.isEmpty, numbers.allSatisfy({ (1...LabTopology.maximumModems).contains($0) }) else {
            throw LabError.invalidModemCount(numbers.count)
        }
        // Its own directory: the lab host's socket and readiness file (`lab up` passes the host's directory).
        let files = LabFiles(directory: lab.directory)
        let rack = LabRack(testbed: try DeviceTestbed())
        for number in numbers { try rack.plug(number) }
        let server = try ControlSocket(listeningAt: files.controlSocket)
        let termination = Self.removeSocketOnTermination(files.controlSocket)
        let reenumeration = rack.watchReenumeration()
        // Written last: its presence tells `lab up` that the modems are plugged and commands are taken.
        try LabFiles.write("\(getpid())\n", to: files.hostReady)
        withExtendedLifetime((termination, reenumeration)) {
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

    /// SIGTERM (from `lab down`) removes the socket; the mounts go with the namespace.
    private static func removeSocketOnTermination(_ socket: String) -> DispatchSourceSignal {
        signal(SIGTERM, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
        source.setEventHandler {
            unlink(socket)
            Glibc.exit(0)
        }
        source.resume()
        return source
    }
}

/// The modems plugged into the testbed and their simulators; commands and re-enumerations come
/// one at a time (`lock`).
final class LabRack: @unchecked Sendable {
    private let testbed: DeviceTestbed
    private var simulators: [Int: (hardware: LabModemHardware, modem: SimulatedModem, terminal: PseudoTerminal)] = [:]
    private let lock = NSLock()
    /// When each plugged modem's `authorized` attribute was last written, as last seen.
    private var authorizedWritten: [Int: timespec] = [:]

    init(testbed: DeviceTestbed) { self.testbed = testbed }

    /// Like the kernel, re-enumerates a modem whose `authorized` attribute was written back to 1
    /// (a recovery rung of the reconciler): it leaves the bus and comes back as a fresh device, its
    /// simulator restarted — which is how a hung modem comes back in the lab. Polled every 100 ms.
    func watchReenumeration() -> DispatchSourceTimer {
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "lab.reenumeration"))
        timer.schedule(deadline: .now(), repeating: .milliseconds(100))
        timer.setEventHandler { [self] in
            lock.withLock {
                for (number, entry) in simulators {
                    let attribute = entry.hardware.usbPath + "/authorized"
                    let written = Self.modified(attribute)
                    let seen = authorizedWritten[number]
                    authorizedWritten[number] = written
                    guard let seen, let written, seen.tv_sec != written.tv_sec || seen.tv_nsec != written.tv_nsec,
                          (try? String(contentsOfFile: attribute, encoding: .utf8))?.hasPrefix("1") == true else { continue }
                    try? unplugLocked(number)
                    try? plugLocked(number)
                    authorizedWritten[number] = Self.modified(attribute)
                }
            }
        }
        timer.resume()
        return timer
    }

    /// Serves the modem on a new pseudo-terminal, then adds its devices with the terminal behind
    /// its control node (the testbed sends their `add` uevents).
    private static func modified(_ path: String) -> timespec? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mtim : nil
    }

    func plug(_ number: Int) throws {
        try lock.withLock { try plugLocked(number) }
    }

    private func plugLocked(_ number: Int) throws {
        guard simulators[number] == nil else { throw TestbedError("modem \(number) is already plugged") }
        let hardware = LabModemHardware(number: number)
        let terminal = try SimulatedModem.openPTY()
        let modem = SimulatedModem(hardware.simulatorConfiguration)
        do {
            try modem.serve(fd: terminal.master)
            try testbed.add(hardware.description, nodes: [hardware.controlNodeName: terminal.slavePath])
        } catch {
            modem.stop()
            terminal.close()
            throw error
        }
        simulators[number] = (hardware, modem, terminal)
    }

    /// Sends `remove` for each of the modem's devices, deepest first, before removing them (as
    /// udev does: a removed device can no longer be announced), then stops its simulator and
    /// closes its pseudo-terminal, which hangs up whoever still has the node open.
    func unplug(_ number: Int) throws {
        try lock.withLock { try unplugLocked(number) }
    }

    private func unplugLocked(_ number: Int) throws {
        authorizedWritten[number] = nil
        guard let (hardware, modem, terminal) = simulators.removeValue(forKey: number) else { throw TestbedError("modem \(number) is not plugged") }
        for device in hardware.devicesDeepestFirst { try testbed.uevent(device, "remove") }
        try testbed.remove(hardware.usbPath)
        modem.stop()
        terminal.close()
    }
    /// `plug N`, `unplug N`, `fault N none|no-answer|gone`.
    func perform(_ line: String) throws {
        let words = line.split(separator: " ").map(String.init)
        guard words.count >= 2, let number = Int(words[1]) else { throw TestbedError("unreadable command '\(line)'") }
        switch (words[0], words.dropFirst(2).first) {
        case ("plug", nil): try plug(number)
        case ("unplug", nil): try unplug(number)
        case ("fault", let fault?):
            guard let modem = lock.withLock({ simulators[number]?.modem }) else { throw TestbedError("modem \(number) is not plugged") }
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
