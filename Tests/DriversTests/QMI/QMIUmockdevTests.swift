import Drivers
import Foundation
import ModemSimulator
import Reconciler
import Testing

/// The driver the way real hardware looks: `/dev/cdc-wdm0` and `wwan0` of a Quectel EC25 bound
/// to `qmi_wwan`, faked by a umockdev testbed, with the simulator behind the node's pty.
/// umockdev works through LD_PRELOAD, so the test re-runs itself under `umockdev-wrapper`;
/// the re-run (marked by `innerMarker` in its environment) builds the testbed and drives the modem.
@Suite("QMI driver behind a umockdev testbed")
struct QMIUmockdevTests {
    static let innerMarker = "PF_QMI_UMOCKDEV_INNER"
    static let wrapper = "/usr/bin/umockdev-wrapper"

    static let canRun = FileManager.default.isExecutableFile(atPath: wrapper)
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"

    // Outside CI a machine without umockdev skips this test (saying so); in CI it must run and fail.
    @Test("observe, raw-IP and connect on /dev/cdc-wdm0 of a umockdev testbed",
          .enabled(if: canRun || inCI, "needs /usr/bin/umockdev-wrapper (Debian package umockdev)"))
    func umockdevTestbed() async throws {
        if ProcessInfo.processInfo.environment[Self.innerMarker] != nil {
            try await UmockdevModem.drive()
            return
        }
        try #require(Self.canRun, "\(Self.wrapper) missing: install the Debian package umockdev")
        // The child runs for a while: wait for it off the cooperative pool, which other tests need.
        let output = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try Self.runSelfUnderUmockdev() }) }
        }
        #expect(output.status == 0, "inner run failed:\n\(output.text)")
        #expect(output.text.contains("umockdev-modem imei=359072060000777 rawip=Y address=100.64.7."), "inner run said:\n\(output.text)")
    }

    private static func runSelfUnderUmockdev() throws -> (status: Int32, text: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.wrapper)
        let me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        process.arguments = [me, "--testing-library", "swift-testing", "--filter", "QMIUmockdevTests"]
        var environment = ProcessInfo.processInfo.environment
        environment[Self.innerMarker] = "1"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// The inner run: a testbed built through libumockdev (`UMockdevTestbed`), the simulator serving the pty umockdev put behind the node.
private enum UmockdevModem {
    static let description = """
        P: /devices/pci0000:00/0000:00:14.0/usb1/1-2
        E: DEVTYPE=usb_device
        E: DRIVER=usb
        E: SUBSYSTEM=usb
        A: idVendor=2c7c
        A: idProduct=0125
        A: manufacturer=Quectel
        A: product=EC25
        A: serial=EC25A0001

        P: /devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.4
        E: DEVTYPE=usb_interface
        E: DRIVER=qmi_wwan
        E: SUBSYSTEM=usb
        A: bInterfaceNumber=04
        L: driver=../../../../../../bus/usb/drivers/qmi_wwan

        P: /devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.4/usbmisc/cdc-wdm0
        N: cdc-wdm0
        E: DEVNAME=/dev/cdc-wdm0
        E: MAJOR=180
        E: MINOR=176
        E: SUBSYSTEM=usbmisc
        A: dev=180:176
        L: device=../../../1-2:1.4

        P: /devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.4/net/wwan0
        E: INTERFACE=wwan0
        E: IFINDEX=5
        E: DEVTYPE=wwan
        E: SUBSYSTEM=net
        A: flags=0x1002
        L: device=../../../1-2:1.4
        A: qmi/raw_ip=N

        """

    static func drive() async throws {
        let testbed = try UMockdevTestbed()
        defer { withExtendedLifetime(testbed) {} }
        try testbed.add(description)
        // umockdev does not create the targets of `L:` links; libqmi resolves the driver link.
        try FileManager.default.createDirectory(atPath: testbed.rootDirectory + "/sys/bus/usb/drivers/qmi_wwan", withIntermediateDirectories: true)
        let fd = try testbed.deviceDescriptor("/dev/cdc-wdm0")
        let driver = try #require(realpath("/sys/class/usbmisc/cdc-wdm0/device/driver", nil), "driver link does not resolve")
        #expect(String(cString: driver).hasSuffix("/bus/usb/drivers/qmi_wwan"))
        free(driver)

        let modem = SimulatedModem(.init(imei: "359072060000777", addressPool: AddressPool(network: IPv4Address(100, 64, 7, 0), prefixLength: 24)))
        try modem.serve(fd: fd)
        defer { modem.stop() }
        let plugged = PluggedModem(usbPath: "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2", portPath: "1-2", vendorID: "2c7c",
                                   productID: "0125", controlDevice: "/dev/cdc-wdm0", interface: "wwan0", supportsRawIP: true)
        let control = QMIModemControl(options: QMIOpenOptions(timeout: .seconds(3)))
        let state = try await control.observe(plugged, remembered: nil)
        #expect(state.imei == "359072060000777")
        #expect(state.rawIPAgreed == false)
        try await control.setRawIP(plugged)
        let rawIP = try String(contentsOfFile: "/sys/class/net/wwan0/qmi/raw_ip", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(rawIP == "Y")
        let (session, settings) = try await control.connect(plugged, apn: "internet", ipType: .ipv4, reusing: nil)
        #expect(try await control.observe(plugged, remembered: session).rawIPAgreed)
        try await control.disconnect(plugged, session: session)
        await control.shutdown()
        print("umockdev-modem imei=\(state.imei) rawip=\(rawIP) address=\(settings.address)")
    }
}
