import Foundation
import Glibc
@testable import ModemSimulator
import Testing

/// The framing and address arithmetic, without any client in the loop.
struct WireAndPoolTests {
    /// CTL Allocate CID for DMS, transaction 7, as libqmi writes it.
    static let allocateDMS: [UInt8] = [0x01, 0x0F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
                                       0x22, 0x00, 0x04, 0x00, 0x01, 0x01, 0x00, 0x02]

    @Test func decodesAControlRequest() throws {
        var buffer = Self.allocateDMS
        let messages = QMUX.takeFrames(from: &buffer)
        #expect(buffer.isEmpty)
        let message = try #require(messages.first)
        #expect(message.service == 0 && message.clientID == 0)
        #expect(message.transactionID == 7 && message.messageID == 0x0022)
        #expect(message.tlv(0x01) == [0x02])
    }

    @Test func skipsGarbageAndWaitsForTheRestOfAFrame() {
        var buffer: [UInt8] = [0xFF, 0x13, 0x37] + Self.allocateDMS.prefix(9)
        #expect(QMUX.takeFrames(from: &buffer).isEmpty)
        #expect(buffer == Array(Self.allocateDMS.prefix(9)))
        buffer += Self.allocateDMS.dropFirst(9) + Self.allocateDMS
        #expect(QMUX.takeFrames(from: &buffer).count == 2)
        #expect(buffer.isEmpty)
    }

    @Test func aStrayMarkerWithAHugeLengthDoesNotHoldBackRealFrames() {
        var buffer: [UInt8] = [0x01, 0xFF, 0xFF, 0x42] + Self.allocateDMS
        #expect(QMUX.takeFrames(from: &buffer).count == 1)
        #expect(buffer.isEmpty)
    }

    @Test func encodesAServiceResponseWithTwoByteTransaction() {
        let response = QMIMessage(service: 0x01, clientID: 3, transactionID: 0x0102, messageID: 0x0020,
                                  tlvs: [TLV(type: 0x02, value: [0, 0, 0, 0]), .u32(0x01, 0x2A00_0001)])
        #expect(QMUX.encode(response) == [
            0x01, 0x1A, 0x00, 0x80, 0x01, 0x03,
            0x02, 0x02, 0x01, 0x20, 0x00, 0x0E, 0x00,
            0x02, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x01, 0x04, 0x00, 0x01, 0x00, 0x00, 0x2A,
        ])
        var buffer = QMUX.encode(response)
        #expect(QMUX.takeFrames(from: &buffer) == [response])
    }

    @Test func truncatedTLVsAreDropped() {
        var frame = Self.allocateDMS
        frame[13] = 0x09
        #expect(QMUX.decode(frame) == nil)
    }

    @Test func poolHandsOutHostsAfterTheGatewayAndWraps() throws {
        let pool = try #require(AddressPool(cidr: "100.64.3.77/29"))
        #expect(pool.description == "100.64.3.72/29")
        #expect(pool.gateway.description == "100.64.3.73")
        #expect(pool.subnetMask.description == "255.255.255.248")
        #expect((0..<6).map { pool.subscriber($0).description } == [
            "100.64.3.74", "100.64.3.75", "100.64.3.76", "100.64.3.77", "100.64.3.78", "100.64.3.74",
        ])
    }

    @Test(arguments: ["100.64.1.0", "100.64.1.0/31", "100.64.1.0/7", "100.64.1/24", "1000.64.1.0/24", "a.b.c.d/24", ""])
    func poolRejectsBadCIDRs(_ text: String) {
        #expect(AddressPool(cidr: text) == nil)
    }

    /// A borrowed descriptor (as umockdev hands out) is served, survives garbage, and is not closed.
    @Test func servesABorrowedDescriptor() throws {
        let terminal = try SimulatedModem.openPTY()
        defer { terminal.close() }
        let modem = SimulatedModem()
        try modem.serve(fd: terminal.master)
        let client = open(terminal.slavePath, O_RDWR | O_NOCTTY)
        try #require(client >= 0)
        defer { close(client) }

        let request: [UInt8] = [0x00, 0xAB] + Self.allocateDMS
        #expect(request.withUnsafeBytes { write(client, $0.baseAddress, $0.count) } == request.count)
        var reply = [UInt8](repeating: 0, count: 64)
        var ready = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
        #expect(poll(&ready, 1, 2000) == 1)
        let count = read(client, &reply, reply.count)
        var buffer = Array(reply[0..<max(count, 0)])
        let response = try #require(QMUX.takeFrames(from: &buffer).first)
        #expect(response.transactionID == 7)
        #expect(response.tlv(0x02) == [0, 0, 0, 0])
        #expect(response.tlv(0x01) == [QMIService.dms.rawValue, 1])

        modem.stop()
        #expect(fcntl(terminal.master, F_GETFD) >= 0, "stop() closed a descriptor it does not own")
        #expect(modem.snapshot().clients[.dms] == [1])
    }

    /// Replugs (start/stop, `.gone`) must not leak descriptors: a lab modem lives for days.
    @Test func replugsLeakNoDescriptors() throws {
        func openDescriptors() throws -> Int { try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count }
        let modem = SimulatedModem()
        try modem.start()
        modem.stop()
        let before = try openDescriptors()
        for round in 0..<100 {
            try modem.start()
            if round.isMultiple(of: 2) { modem.inject(.gone) } else { modem.stop() }
        }
        // Other tests open descriptors concurrently; a leak would show as 300 more.
        #expect(try openDescriptors() < before + 50)
    }

    @Test func startRefusesToReplaceSomethingThatIsNotALink() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pf-sim-\(getpid())-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("cdc-wdm0").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data("keep".utf8)))
        let modem = SimulatedModem()
        #expect(throws: SimulatorError.self) { try modem.start(linkingAt: path) }
        #expect(!modem.isServing)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep")
    }

    @Test func secondStartWhileServingIsRefusedAndKeepsTheLink() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pf-sim-\(getpid())-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("cdc-wdm0").path
        let modem = SimulatedModem()
        defer { modem.stop() }
        let terminal = try modem.start(linkingAt: path)
        #expect(throws: SimulatorError.self) { try modem.start(linkingAt: path) }
        #expect(modem.isServing)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: path) == terminal)
        modem.stop()
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
