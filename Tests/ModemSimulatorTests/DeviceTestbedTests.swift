@testable import ModemSimulator
import Testing

/// The parts of the lab's `DeviceTestbed` that need no namespace: the device description and the
/// hash libudev's in-kernel filter compares (the lab's end-to-end tests show real libudev and
/// libqmi working against the whole).
@Suite struct DeviceTestbedTests {
    /// systemd's `string_hash32`; these values passed a real libudev monitor's subsystem filter.
    @Test func subsystemHashesAreSystemdsMurmurHash2() {
        #expect(UEventSender.hash("usbmisc") == 0xcda8_e391)
        #expect(UEventSender.hash("net") == 0xa74d_3cc8)
        #expect(UEventSender.hash("usb") == 0x0577_c5e5)
        #expect(UEventSender.hash("tty") == 0x8afa_90c8)
        #expect(UEventSender.hash("usb_interface") == 0xb102_4765)
    }

    @Test func descriptionsParseIntoDevicesParentsFirst() throws {
        let devices = try DeviceDescription.parse("""
            P: /devices/usb1/1-2
            E: SUBSYSTEM=usb
            A: serial=LAB1

            P: /devices/usb1/1-2/1-2:1.4/usbmisc/cdc-wdm0
            N: cdc-wdm0
            E: DEVNAME=/dev/cdc-wdm0
            E: SUBSYSTEM=usbmisc
            L: device=../../../1-2:1.4
            """)
        #expect(devices.map(\.path) == ["/devices/usb1/1-2", "/devices/usb1/1-2/1-2:1.4/usbmisc/cdc-wdm0"])
        #expect(devices[0].attributes.map(\.value) == ["LAB1"])
        #expect(devices[1].node == "cdc-wdm0" && devices[1].name == "cdc-wdm0" && devices[1].subsystem == "usbmisc")
        #expect(devices[1].links.map(\.target) == ["../../../1-2:1.4"])
        #expect(throws: TestbedError.self) { try DeviceDescription.parse("E: SUBSYSTEM=usb") }
        #expect(throws: TestbedError.self) { try DeviceDescription.parse("P: /devices/x\nQ: what") }
    }
}
