import Spec
import Foundation
import Reconciler

/// The USB side of a modem, for the recovery rungs that go around a modem that does not answer:
/// re-enumeration through sysfs and a hub port power cycle with `uhubctl`.
struct USBPort {
    /// sysfs path of the modem's `usb_device`.
    var usbPath: String
    /// USB port path, e.g. `1-1.3` (hub `1-1`, port 3) or `1-2` (root hub 1, port 2).
    var portPath: String

    init(_ modem: PluggedModem) {
        usbPath = modem.usbPath
        portPath = modem.portPath
    }

    /// `authorized` 0 then 1: the kernel unbinds every driver of the device and probes it again,
    /// as on a replug (the control node and interface may get new names).
    func reenumerate() throws {
        let attribute = usbPath + "/authorized"
        for value in ["0", "1"] {
            // A sysfs attribute is written in place, in one write(2): never through a temporary file.
            let fd = open(attribute, O_WRONLY | O_CLOEXEC)
            let written = fd < 0 ? -1 : write(fd, value, 1)
            let problem = written == 1 ? nil : String(cString: strerror(errno))
            if fd >= 0 { close(fd) }
            if let problem { throw RecoveryError(rung: .reenumerate, message: "cannot write \(value) to \(attribute): \(problem)") }
        }
    }

    /// The hub and port `uhubctl` names this device by: `1-1.3` → hub `1-1`, port 3.
    var hubPort: (hub: String, port: String)? {
        if let dot = portPath.lastIndex(of: ".") { return (String(portPath[..<dot]), String(portPath[portPath.index(after: dot)...])) }
        guard let dash = portPath.firstIndex(of: "-") else { return nil }
        return (String(portPath[..<dash]), String(portPath[portPath.index(after: dash)...]))
    }

    /// `uhubctl -l HUB -p PORT -a cycle`: off, a pause, on.
    func powerCycle(tool: String = "uhubctl") async throws {
        guard let (hub, port) = hubPort else {
            throw RecoveryError(rung: .powerCycle, message: "USB port path \(portPath) names no hub port")
        }
        let output: ToolOutput
        do {
            output = try await NetworkToolRunner.run([tool, "-l", hub, "-p", port, "-a", "cycle"], timeout: .seconds(30))
        } catch {
            throw RecoveryError(rung: .powerCycle, message: "\(error.message) (install uhubctl)")
        }
        guard output.status == 0 else {
            throw RecoveryError(rung: .powerCycle, message: "uhubctl -l \(hub) -p \(port) -a cycle failed: "
                + NetworkError.printable(output.stderr.trimmingWhitespace()))
        }
    }
}

/// A recovery rung that could not be carried out.
struct RecoveryError: OperatorFacingError {
    var rung: RecoveryRung
    var message: String
    var reason: String { "RecoveryFailed" }
}
