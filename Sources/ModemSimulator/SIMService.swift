/// UIM: card status and PIN verification, with the three-strikes-then-PUK rule of real SIMs.
extension ModemState {
    /// AID of the USIM application the simulated card carries.
    static let usimAID: [UInt8] = [0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02, 0xFF,
                                   0x33, 0xFF, 0x01, 0x89, 0x06, 0x00, 0x00, 0xFF]

    mutating func simCard(_ request: QMIMessage) -> Reply {
        switch request.messageID {
        case 0x0026: return verifyPIN(request)
        case 0x002F: return .ok([cardStatus()])
        default: return .failure(.invalidQmiCommand)
        }
    }

    /// UIM Verify PIN (0x0026): session in TLV 0x01, PIN id and value in TLV 0x02.
    private mutating func verifyPIN(_ request: QMIMessage) -> Reply {
        guard request.tlv(0x01) != nil, let info = request.tlv(0x02) else { return .failure(.missingArgument) }
        var reader = ByteReader(info)
        guard let pinID = reader.u8(), let pin = reader.shortString() else { return .failure(.malformedMessage) }
        return verifyPIN(pinID: pinID, pin: pin)
    }

    /// Shared by the UIM and DMS requests; the answer carries the retries left in TLV 0x10.
    mutating func verifyPIN(pinID: UInt8, pin: String) -> Reply {
        guard pinID == 1 else { return .failure(.invalidPinID) }
        switch simLock {
        case .disabled:
            return .failure(.noEffect)
        case .puk:
            return .failure(.pinBlocked, [retriesTLV()])
        case .unlocked where pin == configuration.pin:
            return .failure(.noEffect, [retriesTLV()])
        case .locked where pin == configuration.pin:
            simLock = .unlocked
            pinRetriesLeft = configuration.pinRetries
            return .ok([retriesTLV()])
        case .locked, .unlocked:
            pinRetriesLeft = pinRetriesLeft > 0 ? pinRetriesLeft - 1 : 0
            if pinRetriesLeft == 0 {
                simLock = .puk
                detach()
            }
            return .failure(.incorrectPin, [retriesTLV()])
        }
    }

    private func retriesTLV() -> TLV {
        TLV(type: 0x10, value: [pinRetriesLeft, pukRetriesLeft])
    }

    /// UIM Get Card Status TLV 0x10: one present card with one USIM application.
    private func cardStatus() -> TLV {
        // QmiUimCardApplicationState and QmiUimPinState values.
        let (applicationState, pin1State): (UInt8, UInt8) = switch simLock {
        case .disabled: (7, 3)
        case .unlocked: (7, 2)
        case .locked: (2, 1)
        case .puk: (3, 4)
        }
        var value: [UInt8] = []
        value.appendLE(UInt16(0x0000))
        value.appendLE(UInt16(0xFFFF))
        value.appendLE(UInt16(0xFFFF))
        value.appendLE(UInt16(0xFFFF))
        value.append(1)
        value += [1, 0, 0, 0, 0]
        value.append(1)
        value += [2, applicationState, 2, 0, 0, 0]
        value.append(UInt8(Self.usimAID.count))
        value += Self.usimAID
        value += [0, pin1State, pinRetriesLeft, pukRetriesLeft, 1, 3, 10]
        return TLV(type: 0x10, value: value)
    }
}
