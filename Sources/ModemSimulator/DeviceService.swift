/// DMS: identity, operating mode, and the legacy DMS-side PIN requests of older firmware.
extension ModemState {
    mutating func deviceManagement(_ request: QMIMessage) -> Reply {
        switch request.messageID {
        case 0x0021: return .ok([.string(0x01, configuration.manufacturer)])
        case 0x0022: return .ok([.string(0x01, configuration.model)])
        case 0x0023: return .ok([.string(0x01, configuration.revision)])
        case 0x0025: return .ok([.string(0x11, configuration.imei)])
        case 0x0028: return legacyVerifyPIN(request)
        case 0x002B: return legacyPINStatus()
        // Hardware revision: qmicli asks for it before reading or setting the operating mode.
        case 0x002C: return .ok([.string(0x01, configuration.revision)])
        case 0x002D: return .ok([.u8(0x01, operatingMode.rawValue), .u8(0x11, 0)])
        case 0x002E: return setOperatingMode(request)
        default: return .failure(.invalidQmiCommand)
        }
    }

    private mutating func setOperatingMode(_ request: QMIMessage) -> Reply {
        guard let raw = request.tlv(0x01)?.first else { return .failure(.missingArgument) }
        guard let mode = OperatingMode(rawValue: raw) else { return .failure(.invalidArgument) }
        switch mode {
        case .reset:
            reboot()
        case .online:
            operatingMode = .online
        case .lowPower, .offline, .persistentLowPower, .modeOnlyLowPower:
            operatingMode = mode
            detach()
        }
        return .ok()
    }

    /// DMS UIM Verify PIN (0x0028): PIN id and value in TLV 0x01.
    private mutating func legacyVerifyPIN(_ request: QMIMessage) -> Reply {
        guard let value = request.tlv(0x01) else { return .failure(.missingArgument) }
        var reader = ByteReader(value)
        guard let pinID = reader.u8(), let pin = reader.shortString() else { return .failure(.malformedMessage) }
        return verifyPIN(pinID: pinID, pin: pin)
    }

    /// DMS UIM Get PIN Status (0x002B): PIN1 status in TLV 0x11 (QmiDmsUimPinStatus values).
    private func legacyPINStatus() -> Reply {
        let status: UInt8 = switch simLock {
        case .disabled: 3
        case .locked: 1
        case .unlocked: 2
        case .puk: 4
        }
        return .ok([TLV(type: 0x11, value: [status, pinRetriesLeft, pukRetriesLeft])])
    }
}
