/// Devices in umockdev's description format — `P:` sysfs path, `E:` uevent property, `A:`
/// attribute, `L:` link, `N:` device node, a blank line between devices, parents first — the
/// format the discovery fixtures and the lab share.
public struct DeviceDescription: Sendable, Equatable {
    /// The sysfs path below /sys, e.g. `/devices/pci0000:00/…/usb1/1-2`.
    public var path: String
    public var properties: [(key: String, value: String)]
    public var attributes: [(name: String, value: String)]
    public var links: [(name: String, target: String)]
    /// The node's name below /dev (`cdc-wdm0`), for character devices.
    public var node: String?

    public var subsystem: String? { property("SUBSYSTEM") }
    /// The device's name, the last component of its path.
    public var name: String { path.split(separator: "/").last.map(String.init) ?? path }

    public func property(_ key: String) -> String? { properties.first { $0.key == key }?.value }

    /// The devices of a description, in its order.
    public static func parse(_ text: String) throws(TestbedError) -> [DeviceDescription] {
        var devices: [DeviceDescription] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let trimmed = line.trimmingPrefix(while: { $0 == " " })
            guard !trimmed.isEmpty else { continue }
            guard trimmed.count >= 3, trimmed.dropFirst().hasPrefix(": ") else { throw TestbedError("unreadable description line '\(line)'") }
            let kind = trimmed.first ?? " "
            let content = String(trimmed.dropFirst(3))
            if kind == "P" {
                devices.append(DeviceDescription(path: content, properties: [], attributes: [], links: [], node: nil))
                continue
            }
            guard !devices.isEmpty else { throw TestbedError("description line '\(line)' before any P: line") }
            let pair = content.split(separator: "=", maxSplits: 1).map(String.init)
            switch (kind, pair.count) {
            case ("E", 2): devices[devices.count - 1].properties.append((pair[0], pair[1]))
            case ("A", 2): devices[devices.count - 1].attributes.append((pair[0], pair[1]))
            case ("L", 2): devices[devices.count - 1].links.append((pair[0], pair[1]))
            case ("N", _): devices[devices.count - 1].node = content
            default: throw TestbedError("unreadable description line '\(line)'")
            }
        }
        return devices
    }

    public static func == (lhs: DeviceDescription, rhs: DeviceDescription) -> Bool {
        lhs.path == rhs.path && lhs.node == rhs.node
            && lhs.properties.elementsEqual(rhs.properties) { $0 == $1 }
            && lhs.attributes.elementsEqual(rhs.attributes) { $0 == $1 }
            && lhs.links.elementsEqual(rhs.links) { $0 == $1 }
    }
}
