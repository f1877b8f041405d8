import Foundation
import Reconciler
@testable import ReconcileCLI
import Testing

/// What `reconcile discover` prints; the modems themselves come from DriversTests' umockdev runs.
struct DiscoverTests {
    static let known = PluggedModem(
        usbPath: "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.1", portPath: "1-1.1", vendorID: "2c7c",
        productID: "0125", manufacturer: "Quectel", product: "EC25", usbSerial: "EC25A0001", controlDevice: "/dev/cdc-wdm1",
        interface: "wwan1", supportsRawIP: true, atPorts: ["/dev/ttyUSB4", "/dev/ttyUSB5"])
    static let new = PluggedModem(
        usbPath: "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1", portPath: "2-1", vendorID: "12d1", productID: "15c1",
        manufacturer: "Huawei", product: "ME909s", usbSerial: "FA5B3C7D", controlDevice: "/dev/cdc-wdm2",
        atPorts: ["/dev/ttyUSB8"])
    static let noSerial = PluggedModem(
        usbPath: "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-3", portPath: "1-3", vendorID: "2c7c", productID: "0125",
        manufacturer: "Quectel", product: "EC25", controlDevice: "/dev/cdc-wdm3", interface: "wwan3", supportsRawIP: true)
    static let modems = [known, new, noSerial]

    @Test("the table has one row per modem and marks the ones farm.yaml lacks")
    func table() throws {
        let lines = try Discover.report(Self.modems, known: ["EC25A0001"], output: .table, snippet: false)
            .split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(lines == [
            "PORT USB ID PRODUCT USB SERIAL IMEI SIM CONTROL INTERFACE AT PORTS IN FARM.YAML",
            "1-1.1 2c7c:0125 Quectel EC25 EC25A0001 - - /dev/cdc-wdm1 wwan1 ttyUSB4,ttyUSB5 yes",
            "2-1 12d1:15c1 Huawei ME909s FA5B3C7D - - /dev/cdc-wdm2 (not yet) ttyUSB8 NO (new)",
            "1-3 2c7c:0125 Quectel EC25 - - - /dev/cdc-wdm3 wwan3 ? (no USB serial, no IMEI)",
        ])
    }

    @Test("a modem that answered over QMI shows its IMEI and SIM, and is known by its IMEI when it has no USB serial")
    func identities() throws {
        let identities = ["/dev/cdc-wdm3": ModemIdentity(imei: "359072060000333", sim: .pinRequired)]
        let text = try Discover.report(Self.modems, identities: identities, known: ["EC25A0001"], output: .table, snippet: true)
        let row = try #require(text.split(separator: "\n").first { $0.hasPrefix("1-3 ") })
            .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        #expect(row == "1-3 2c7c:0125 Quectel EC25 - 359072060000333 pinRequired /dev/cdc-wdm3 wwan3 NO (new)")
        #expect(text.contains("  - serial: \"359072060000333\"   # IMEI of the Quectel EC25 on USB port 1-3 (it has no USB serial)\n"))
        let known = try Discover.report(Self.modems, identities: identities, known: ["359072060000333"], output: .json, snippet: false)
        let objects = try #require(JSONSerialization.jsonObject(with: Data(known.utf8)) as? [[String: Any]])
        #expect(objects[2]["imei"] as? String == "359072060000333")
        #expect(objects[2]["sim"] as? String == "pinRequired")
        #expect(objects[2]["inFarmFile"] as? Bool == true)
    }

    @Test("the snippet has an entry for each modem farm.yaml lacks, and asks for the IMEI when there is no serial")
    func snippet() throws {
        let text = try Discover.report(Self.modems, known: ["EC25A0001"], output: .table, snippet: true)
        let start = try #require(text.range(of: "modems:\n")).lowerBound
        let snippet = text[start...]
        #expect(snippet == """
            modems:
              - serial: "FA5B3C7D"   # USB serial of the Huawei ME909s on USB port 2-1
                name: usb2-1
              - serial: ""   # the Quectel EC25 on USB port 1-3 has no USB serial: put its IMEI here (qmicli -d /dev/cdc-wdm3 --dms-get-ids)
                name: usb1-3

            """)
    }

    @Test("JSON carries every modem field plus inFarmFile (absent when it cannot be told)")
    func json() throws {
        let text = try Discover.report(Self.modems, known: ["EC25A0001"], output: .json, snippet: false)
        let objects = try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        #expect(objects.map { $0["inFarmFile"] as? Bool } == [true, false, nil])
        let decoded = try JSONDecoder().decode([PluggedModem].self, from: Data(text.utf8))
        #expect(decoded == Self.modems)
    }

    @Test("serials are read loosely from farm.yaml, quoted or not")
    func knownSerials() throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "discover-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let farm = directory.appending(path: "farm.yaml")
        try Data("version: 1\nmodems:\n  - serial: \"EC25A0001\"\n    name: m01\n  - serial: 860000000000001\n    name: m02\n".utf8)
            .write(to: farm)
        #expect(try Discover.knownSerials(file: farm.path) == ["EC25A0001", "860000000000001"])

        #expect(throws: DiscoverError.self) { try Discover.knownSerials(file: directory.appending(path: "missing.yaml").path) }
        let broken = directory.appending(path: "broken.yaml")
        try Data("modems: [\n".utf8).write(to: broken)
        let error = #expect(throws: DiscoverError.self) { try Discover.knownSerials(file: broken.path) }
        #expect(error?.description.hasPrefix(broken.path) == true)
    }
}
