import CUDev
import Foundation
import Reconciler
import Synchronization

/// Which QMI modems are plugged in, read from libudev. A modem is a USB device with a `cdc-wdm`
/// control node on an interface bound to `qmi_wwan`; its net interface and serial ports are found
/// through their common `usb_device` parent, never by interface numbers or enumeration order.
///
/// A scan walks every device of the three subsystems in /sys, and libudev resolves each of their
/// paths one component at a time: at 100 modems some 7,000 system calls, most of an idle pass.
/// With `changes` from the daemon's udev monitor, a scan is kept until the monitor sees an event
/// or `maximumAge` passes (a missed event then costs at most that long); without, every look scans.
public final class UDevModemInventory: ModemInventory, Sendable {
    private let changes: UDevChanges?
    private let maximumAge: Duration
    private let kept = Mutex<(generation: UInt64, scanned: ContinuousClock.Instant, modems: [PluggedModem])?>(nil)

    public init(changes: UDevChanges? = nil, maximumAge: Duration = .seconds(60)) {
        self.changes = changes
        self.maximumAge = maximumAge
    }

    public func pluggedModems() async throws -> [PluggedModem] {
        let now = ContinuousClock.now
        guard let generation = changes?.generation else { return try scan() }
        if let kept = kept.withLock({ $0 }), kept.generation == generation, kept.scanned.duration(to: now) < maximumAge {
            return kept.modems
        }
        let modems = try scan()
        kept.withLock { $0 = (generation, now, modems) }
        return modems
    }

    /// The synchronous scan, for callers outside async code (the discover command, the watch loop).
    public func scan() throws(DiscoveryError) -> [PluggedModem] {
        guard let udev = udev_new() else { throw .udevUnavailable }
        defer { udev_unref(udev) }
        guard let enumerate = udev_enumerate_new(udev) else { throw .udevUnavailable }
        defer { udev_enumerate_unref(enumerate) }
        for subsystem in ["usbmisc", "net", "tty"] {
            udev_enumerate_add_match_subsystem(enumerate, subsystem)
        }
        let status = udev_enumerate_scan_devices(enumerate)
        guard status >= 0 else { throw .enumerationFailed(errno: -status) }

        var devices: [String: USBDeviceParts] = [:]
        var entry = udev_enumerate_get_list_entry(enumerate)
        while let current = entry {
            entry = udev_list_entry_get_next(current)
            guard let handle = udev_device_new_from_syspath(udev, udev_list_entry_get_name(current)) else { continue }
            defer { udev_device_unref(handle) }
            let device = UDevDevice(handle: handle)
            guard let usbDevice = device.ancestor(subsystem: "usb", devtype: "usb_device"),
                  let usbPath = usbDevice.syspath else { continue }
            devices[usbPath, default: USBDeviceParts(usbDevice, path: usbPath)].collect(device)
        }
        return naturallySorted(devices.values.compactMap(\.modem), by: \.portPath)
    }
}

/// What one USB device shows of itself while the scan walks its children.
private struct USBDeviceParts {
    let usbPath: String
    let portPath: String
    let vendorID: String
    let productID: String
    let manufacturer: String?
    let product: String?
    let usbSerial: String?
    /// QMI control nodes, keyed by the sysfs path of their `usb_interface`.
    var controls: [String: String] = [:]
    /// Net interfaces (name, has `qmi/raw_ip`), keyed by the sysfs path of their `usb_interface`.
    var interfaces: [String: (name: String, rawIP: Bool)] = [:]
    var serialPorts: [String] = []

    init(_ usbDevice: UDevDevice, path: String) {
        usbPath = path
        portPath = usbDevice.sysname ?? URL(filePath: path).lastPathComponent
        vendorID = usbDevice.attribute("idVendor")?.lowercased() ?? ""
        productID = usbDevice.attribute("idProduct")?.lowercased() ?? ""
        manufacturer = usbDevice.attribute("manufacturer")
        product = usbDevice.attribute("product")
        usbSerial = usbDevice.attribute("serial").flatMap(Self.meaningfulSerial)
    }

    /// Cheap dongles report "0" (or nothing): then the IMEI, read over QMI, is the identity.
    private static func meaningfulSerial(_ serial: String) -> String? {
        serial.allSatisfy { $0 == "0" } ? nil : serial
    }

    mutating func collect(_ device: UDevDevice) {
        let interfacePath = device.ancestor(subsystem: "usb", devtype: "usb_interface")
        switch device.subsystem {
        case "usbmisc":
            guard let interface = interfacePath, interface.driver == "qmi_wwan", let path = interface.syspath,
                  let name = device.sysname else { return }
            controls[path] = device.devnode ?? "/dev/\(name)"
        case "net":
            guard let path = interfacePath?.syspath, let name = device.sysname else { return }
            interfaces[path] = (name, device.hasAttribute("qmi/raw_ip"))
        case "tty":
            guard let node = device.devnode else { return }
            serialPorts.append(node)
        default:
            return
        }
    }

    /// Nil unless the device has a QMI control node. Should one device carry several, the one on the
    /// lowest interface is its control device, with the net interface on that same interface.
    var modem: PluggedModem? {
        guard let interface = controls.keys.min(by: naturallyPrecedes), let control = controls[interface] else { return nil }
        let net = interfaces[interface]
        return PluggedModem(
            usbPath: usbPath, portPath: portPath, vendorID: vendorID, productID: productID,
            manufacturer: manufacturer, product: product, usbSerial: usbSerial, controlDevice: control,
            interface: net?.name, supportsRawIP: net?.rawIP, atPorts: serialPorts.sorted(by: naturallyPrecedes))
    }
}
