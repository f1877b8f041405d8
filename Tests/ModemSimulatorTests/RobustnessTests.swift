@testable import ModemSimulator
import Testing

/// Whatever a client sends, the modem answers with a well-formed response and never traps.
struct RobustnessTests {
    /// xorshift64*: deterministic, so a failure reproduces.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
    }

    static let messages: [(QMIService, [UInt16])] = [
        (.ctl, [0x0021, 0x0022, 0x0023, 0x0027, 0x00FF]),
        (.dms, [0x0021, 0x0025, 0x0028, 0x002B, 0x002C, 0x002D, 0x002E, 0x0100]),
        (.uim, [0x0026, 0x002F, 0x0001]),
        (.wds, [0x0020, 0x0021, 0x0022, 0x002D, 0x0055]),
        (.wda, [0x0020, 0x0021, 0x0029]),
        (.nas, [0x0024, 0x004F, 0x0020]),
    ]

    @Test func randomTLVsAlwaysGetAWellFormedAnswer() throws {
        var random = Generator(state: 0x5EED_CAFE_F00D_0001)
        var state = ModemState(configuration: .init(pin: "1234", addressPool: AddressPool(
            network: IPv4Address(100, 64, 9, 0), prefixLength: 30)))
        for service in QMIService.allCases where service != .ctl {
            for _ in 0..<3 {
                let allocate = QMIMessage(service: 0, clientID: 0, transactionID: 1, messageID: 0x0022,
                                          tlvs: [.u8(0x01, service.rawValue)])
                _ = state.respond(to: allocate)
            }
        }
        for round in 0..<5_000 {
            let (service, ids) = Self.messages[Int.random(in: 0..<Self.messages.count, using: &random)]
            let tlvs = (0..<Int.random(in: 0...4, using: &random)).map { _ in
                TLV(type: UInt8.random(in: 0...0x20, using: &random),
                    value: (0..<Int.random(in: 0...12, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
            }
            let request = QMIMessage(service: service.rawValue, clientID: UInt8.random(in: 0...4, using: &random),
                                     transactionID: UInt16(truncatingIfNeeded: round),
                                     messageID: ids[Int.random(in: 0..<ids.count, using: &random)], tlvs: tlvs)
            var frame = QMUX.encode(state.respond(to: request))
            let response = try #require(QMUX.takeFrames(from: &frame).first)
            #expect(response.messageID == request.messageID)
            #expect(response.transactionID == (service == .ctl ? request.transactionID & 0xFF : request.transactionID))
            #expect(response.tlv(0x02)?.count == 4)
        }
    }

    @Test func anOverlongAPNIsRefused() {
        var state = ModemState(configuration: .init())
        _ = state.respond(to: QMIMessage(service: 0, clientID: 0, transactionID: 1, messageID: 0x0022,
                                         tlvs: [.u8(0x01, QMIService.wds.rawValue)]))
        let start = QMIMessage(service: QMIService.wds.rawValue, clientID: 1, transactionID: 2, messageID: 0x0020,
                               tlvs: [.string(0x14, String(repeating: "a", count: 60_000))])
        let response = state.respond(to: start)
        #expect(response.tlv(0x02) == [1, 0, 19, 0])
        #expect(state.sessions.isEmpty)
    }
}
