/// NAS: registration (only when online, with a ready SIM and coverage) and signal.
extension ModemState {
    mutating func networkAccess(_ request: QMIMessage) -> Reply {
        switch request.messageID {
        case 0x0024: return .ok(servingSystem())
        case 0x004F: return .ok(signalInfo())
        default: return .failure(.invalidQmiCommand)
        }
    }

    /// NAS Get Serving System: TLV 0x01 (registration, CS/PS attach, network type, radio
    /// interfaces), roaming 0x10 and the current PLMN 0x12 when registered.
    private func servingSystem() -> [TLV] {
        guard isRegistered else {
            // QmiNasRegistrationState: 2 = searching (no coverage), 0 = not registered.
            return [TLV(type: 0x01, value: [isSearching ? 2 : 0, 2, 2, 0, 0])]
        }
        var plmn: [UInt8] = []
        plmn.appendLE(configuration.mcc)
        plmn.appendLE(configuration.mnc)
        plmn.appendShortString(configuration.operatorName)
        return [
            TLV(type: 0x01, value: [1, 1, 1, 2, 1, configuration.radioTechnology.radioInterface]),
            .u8(0x10, 1),
            TLV(type: 0x12, value: plmn),
        ]
    }

    /// NAS Get Signal Info: one TLV for the serving technology; none while not registered.
    private func signalInfo() -> [TLV] {
        guard isRegistered else { return [] }
        let signal = self.signal
        var value: [UInt8] = [UInt8(bitPattern: signal.rssi)]
        switch configuration.radioTechnology {
        case .gsm:
            return [TLV(type: 0x12, value: value)]
        case .umts:
            value.appendLE(Int16((signal.ecio * -2).rounded()))
            return [TLV(type: 0x13, value: value)]
        case .lte:
            value.append(UInt8(bitPattern: signal.rsrq))
            value.appendLE(signal.rsrp)
            value.appendLE(Int16((signal.snr * 10).rounded()))
            return [TLV(type: 0x14, value: value)]
        }
    }
}
