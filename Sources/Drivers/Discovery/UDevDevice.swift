import Spec
import CUDev
import Foundation

/// One libudev device, asked only what discovery needs. It does not own its reference: the
/// enumeration that created the device releases it, and parents live as long as their child.
struct UDevDevice {
    let handle: OpaquePointer

    var syspath: String? { Self.string(udev_device_get_syspath(handle)) }
    var sysname: String? { Self.string(udev_device_get_sysname(handle)) }
    var subsystem: String? { Self.string(udev_device_get_subsystem(handle)) }
    var devnode: String? { Self.string(udev_device_get_devnode(handle)) }
    var driver: String? { Self.string(udev_device_get_driver(handle)) }

    /// A sysfs attribute, trimmed; nil when absent or blank.
    func attribute(_ name: String) -> String? {
        guard let value = Self.string(udev_device_get_sysattr_value(handle, name)) else { return nil }
        let trimmed = value.trimmingWhitespace()
        return trimmed.isEmpty ? nil : trimmed
    }

    func hasAttribute(_ name: String) -> Bool {
        udev_device_get_sysattr_value(handle, name) != nil
    }

    /// The nearest ancestor of that subsystem and devtype, e.g. the `usb_device` a port belongs to.
    func ancestor(subsystem: String, devtype: String) -> UDevDevice? {
        udev_device_get_parent_with_subsystem_devtype(handle, subsystem, devtype).map(UDevDevice.init(handle:))
    }

    private static func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}
