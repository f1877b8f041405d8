import ModemSimulator

/// The simulated modems of a lab: Quectel EC25s on one USB bus, modem k behind `/dev/cdc-wdm<k-1>`
/// and `wwank` (the name of its veth in the farm namespace). Modem 1's SIM wants a PIN and modem 2
/// reports no USB serial (`0`), so farm.yaml must name it by IMEI; the others by USB serial.
struct LabModemHardware: Sendable, Equatable {
    static let pin = "1234"
    static let noSerialModem = 2

    let number: Int
    /// N of its `/dev/cdc-wdmN`.
    var node: Int { number - 1 }

    var imei: String { "35907206" + String(repeating: "0", count: 7 - String(number).count) + String(number) }
    var usbSerial: String? { number == Self.noSerialModem ? nil : "LAB" + imei.suffix(5) }
    /// How farm.yaml names the modem: the USB serial where there is one, the IMEI otherwise.
    var identity: String { usbSerial ?? imei }
    var simPIN: String? { number == 1 ? Self.pin : nil }
    var name: String { number < 10 ? "m0\(number)" : "m\(number)" }

    var portPath: String { "1-\(number)" }
    var usbPath: String { "/sys/devices/pci0000:00/0000:00:14.0/usb1/\(portPath)" }
    var controlNodeName: String { "cdc-wdm\(node)" }

    var simulatorConfiguration: SimulatedModem.Configuration {
        var configuration = SimulatedModem.Configuration(imei: imei, pin: simPIN)
        configuration.addressPool = AddressPool(network: IPv4Address(100, 64, UInt8(number), 0), prefixLength: 24)
        return configuration
    }

    /// The modem in umockdev's description format (`DeviceDescription`): USB device, QMI
    /// interface (bound to qmi_wwan), its control node and its net interface.
    var description: String {
        let device = "/devices/pci0000:00/0000:00:14.0/usb1/\(portPath)"
        let interface = "\(device)/\(portPath):1.4"
        let node = "cdc-wdm\(self.node)"
        return """
            P: \(device)
            E: DEVTYPE=usb_device
            E: DRIVER=usb
            E: SUBSYSTEM=usb
            A: idVendor=2c7c
            A: idProduct=0125
            A: manufacturer=Quectel
            A: product=EC25
            A: serial=\(usbSerial ?? "0")
            A: authorized=1

            P: \(interface)
            E: DEVTYPE=usb_interface
            E: DRIVER=qmi_wwan
            E: SUBSYSTEM=usb
            A: bInterfaceNumber=04
            L: driver=../../../../../../bus/usb/drivers/qmi_wwan

            P: \(interface)/usbmisc/\(node)
            N: \(node)
            E: DEVNAME=/dev/\(node)
            E: MAJOR=180
            E: MINOR=\(176 + self.node)
            E: SUBSYSTEM=usbmisc
            A: dev=180:\(176 + self.node)
            L: device=../../../\(portPath):1.4

            P: \(interface)/net/wwan\(number)
            E: INTERFACE=wwan\(number)
            E: IFINDEX=\(100 + number)
            E: DEVTYPE=wwan
            E: SUBSYSTEM=net
            A: flags=0x1002
            L: device=../../../\(portPath):1.4
            A: qmi/raw_ip=N

            """
    }

    /// The /sys paths of the modem's devices, deepest first: the order of `remove` uevents.
    var devicesDeepestFirst: [String] {
        let interface = "\(usbPath)/\(portPath):1.4"
        return ["\(interface)/net/wwan\(number)", "\(interface)/usbmisc/cdc-wdm\(node)", interface, usbPath]
    }
}

extension LabModemHardware {
    /// One line for `lab up`: name, identity and what is special about it.
    var summary: String {
        var text = "\(name) \(LabTopology.modemInterface(number)) \(usbSerial.map { "serial \($0)" } ?? "IMEI \(imei) (no USB serial)")"
        if simPIN != nil { text += " SIM PIN" }
        return text
    }
}
