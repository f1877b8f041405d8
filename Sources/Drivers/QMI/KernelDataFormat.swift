import Spec
import Foundation
import Reconciler

/// The kernel half of the data format: qmi_wwan's `/sys/class/net/<if>/qmi/raw_ip`. The root is
/// injectable because tests (and umockdev) provide a sysfs of their own.
public struct KernelDataFormat: Sendable {
    public var sysfsRoot: String
    /// iproute2's `ip` and leading arguments, e.g. `["/usr/sbin/ip", "-n", "farm"]` for a modem
    /// whose interface lives in another network namespace.
    public var ipCommand: [String]

    public init(sysfsRoot: String = "/sys", ipCommand: [String]? = nil) {
        self.sysfsRoot = sysfsRoot
        self.ipCommand = ipCommand ?? [Self.ipTool].compactMap { $0 }
    }

    /// Where iproute2's `ip` is installed, if it is.
    public static let ipTool = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    private func attribute(_ interface: String, _ name: String) -> String {
        "\(sysfsRoot)/class/net/\(interface)/\(name)"
    }

    /// Whether the kernel frames `interface`'s traffic as raw IP.
    public func usesRawIP(_ interface: String) throws -> Bool {
        let path = attribute(interface, "qmi/raw_ip")
        guard let bytes = WholeFile.bytes(path) else {
            throw QMIError(.kernelDataFormat, device: interface, operation: "read raw_ip", detail: "cannot read \(path)")
        }
        return [UInt8(ascii: "Y"), UInt8(ascii: "y")].contains(bytes.first { !" \t\n".utf8.contains($0) } ?? 0)
    }

    /// Switches `interface` to raw IP. qmi_wwan refuses the change while the link is up, so an up
    /// link is taken down for the write and brought back up after.
    public func setRawIP(_ interface: String) throws {
        if try usesRawIP(interface) { return }
        let wasUp = isUp(interface)
        if wasUp { try setLink(interface, up: false) }
        defer { if wasUp { try? setLink(interface, up: true) } }
        try writeAttribute(attribute(interface, "qmi/raw_ip"), "Y", interface: interface)
        guard try usesRawIP(interface) else {
            throw QMIError(.kernelDataFormat, device: interface, operation: "set raw_ip", detail: "the kernel kept 802.3 framing")
        }
    }

    /// IFF_UP from sysfs `flags`; an interface without the attribute is treated as down.
    private func isUp(_ interface: String) -> Bool {
        guard let text = try? String(contentsOfFile: attribute(interface, "flags"), encoding: .utf8),
              let flags = Int(text.trimmingWhitespace().replacing("0x", with: ""), radix: 16)
        else { return false }
        return flags & 0x1 != 0
    }

    /// A sysfs attribute is written in place: it is not a file that could be replaced by rename.
    private func writeAttribute(_ path: String, _ value: String, interface: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw QMIError(.kernelDataFormat, device: interface, operation: "set raw_ip",
                           detail: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let written = value.withCString { write(fd, $0, strlen($0)) }
        guard written >= 0 else {
            throw QMIError(.kernelDataFormat, device: interface, operation: "set raw_ip",
                           detail: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    private func setLink(_ interface: String, up: Bool) throws {
        let state = up ? "up" : "down"
        guard let tool = ipCommand.first else {
            throw QMIError(.kernelDataFormat, device: interface, operation: "link \(state)", detail: "iproute2 `ip` not found")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ipCommand.dropFirst() + ["link", "set", "dev", interface, state]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch {
            throw QMIError(.kernelDataFormat, device: interface, operation: "link \(state)", detail: "\(error)")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw QMIError(.kernelDataFormat, device: interface, operation: "link \(state)",
                           detail: "ip link set \(state) exited \(process.terminationStatus)")
        }
    }
}
