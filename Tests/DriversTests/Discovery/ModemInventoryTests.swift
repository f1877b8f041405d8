import Reconciler
import Testing

/// Real libudev enumerating umockdev device trees (Tests/DriversTests/Fixtures/umockdev).
@Suite(.enabled(if: UMockdevLab.runnable, "umockdev or python3-gi is missing; CI (CI=true) fails instead of skipping"))
struct ModemInventoryTests {
    static let hub = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1"

    /// An EC25 as the fixtures build it: serial ports on interfaces 0-3, QMI on interface 4.
    static func ec25(_ parent: String, _ port: String, serial: String?, product: String = "EC25", productID: String = "0125",
                     control: Int, interface: Int?, firstTTY: Int) -> PluggedModem {
        PluggedModem(
            usbPath: "\(parent)/\(port)", portPath: port, vendorID: "2c7c", productID: productID, manufacturer: "Quectel",
            product: product, usbSerial: serial, controlDevice: "/dev/cdc-wdm\(control)",
            interface: interface.map { "wwan\($0)" }, supportsRawIP: interface.map { _ in true },
            atPorts: (firstTTY..<firstTTY + 4).map { "/dev/ttyUSB\($0)" })
    }

    static let twoOnHub = [
        ec25(hub, "1-1.1", serial: "EC25A0001", control: 1, interface: 1, firstTTY: 4),
        ec25(hub, "1-1.2", serial: "EC25B0002", control: 0, interface: 0, firstTTY: 0),
    ]

    static let huawei = PluggedModem(
        usbPath: "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1", portPath: "2-1", vendorID: "12d1", productID: "15c1",
        manufacturer: "Huawei Technologies Co., Ltd.", product: "HUAWEI Mobile", usbSerial: "FA5B3C7D",
        controlDevice: "/dev/cdc-wdm2", interface: "wwan2", supportsRawIP: false,
        atPorts: ["/dev/ttyUSB8", "/dev/ttyUSB9", "/dev/ttyUSB10"])

    static let usb1 = "/sys/devices/pci0000:00/0000:00:14.0/usb1"

    static let withoutSerial = [
        ec25(usb1, "1-3", serial: nil, control: 3, interface: 3, firstTTY: 12),
        ec25(usb1, "1-4", serial: nil, product: "EC21", productID: "0121", control: 4, interface: 4, firstTTY: 16),
    ]

    static let interfaceNotYet = ec25(usb1, "1-5", serial: "EC25E0005", control: 5, interface: nil, firstTTY: 20)

    @Test("two EC25 on a hub are grouped by their USB parent, not by node numbering")
    func twoOnAHub() async throws {
        #expect(try await UMockdevLab.scan(["two-ec25-on-hub"]) == Self.twoOnHub)
    }

    @Test("a Huawei QMI modem without qmi/raw_ip reports supportsRawIP false")
    func huaweiModem() async throws {
        #expect(try await UMockdevLab.scan(["huawei-me909s"]) == [Self.huawei])
    }

    @Test("a USB serial of \"0\" or none at all is reported as no serial")
    func noUSBSerial() async throws {
        #expect(try await UMockdevLab.scan(["no-usb-serial"]) == Self.withoutSerial)
    }

    @Test("a modem whose net interface has not appeared yet is reported without one")
    func interfaceNotAppeared() async throws {
        #expect(try await UMockdevLab.scan(["no-net-interface-yet"]) == [Self.interfaceNotYet])
    }

    @Test("a keyboard, a USB stick and an MBIM modem (cdc-wdm not on qmi_wwan) are not QMI modems")
    func notModems() async throws {
        #expect(try await UMockdevLab.scan(["not-modems"]) == [])
    }

    @Test("everything plugged at once: each modem once, sorted by port path")
    func wholeBench() async throws {
        let modems = try await UMockdevLab.scan(["not-modems", "huawei-me909s", "no-net-interface-yet", "no-usb-serial", "two-ec25-on-hub"])
        #expect(modems == Self.twoOnHub + Self.withoutSerial + [Self.interfaceNotYet, Self.huawei])
    }
}
