/// WDS (data sessions and their IP settings) and WDA (the device's data format).
extension ModemState {
    mutating func wirelessData(_ request: QMIMessage) -> Reply {
        switch request.messageID {
        case 0x0020: return startNetwork(request)
        case 0x0021: return stopNetwork(request)
        // The modem's data call, whichever client started it.
        case 0x0022: return .ok([.u8(0x01, sessions.isEmpty ? 1 : 2)])
        case 0x002D: return currentSettings(request)
        default: return .failure(.invalidQmiCommand)
        }
    }

    mutating func dataAdministration(_ request: QMIMessage) -> Reply {
        switch request.messageID {
        case 0x0020:
            if let value = request.tlv(0x11) {
                var reader = ByteReader(value)
                guard let raw = reader.u32(), let format = LinkLayerProtocol(rawValue: raw) else {
                    return .failure(.invalidArgument)
                }
                linkLayer = format
            }
            return .ok(dataFormat())
        case 0x0021: return .ok(dataFormat())
        default: return .failure(.invalidQmiCommand)
        }
    }

    private func dataFormat() -> [TLV] {
        [.u8(0x10, 0), .u32(0x11, linkLayer.rawValue), .u32(0x12, 0), .u32(0x13, 0)]
    }

    /// WDS Start Network (0x0020): APN in TLV 0x14, authentication 0x16, user name 0x17, password
    /// 0x18, IP family 0x19; answers the packet data handle in TLV 0x01, or CallFailed with the
    /// call end reasons (0x10, verbose 0x11). Like real firmware, a modem has one call on its
    /// default profile: a start while it is up — from any client — answers NoEffect.
    private mutating func startNetwork(_ request: QMIMessage) -> Reply {
        if !sessions.isEmpty { return .failure(.noEffect) }
        // IPv4-only carrier: IPv6 (6) is refused; IPv4 (4) and unspecified (8) get IPv4.
        if let family = request.tlv(0x19)?.first, family == 6 {
            return .failure(.invalidIPFamilyPreference)
        }
        guard isRegistered else {
            // Generic "no service"; verbose: call manager (3), no service (2001).
            return callFailed(reason: 3, verboseType: 3, verboseReason: 2001)
        }
        let apn = request.tlv(0x14).map { String(decoding: $0, as: UTF8.self) } ?? ""
        // 3GPP TS 23.003: an APN is at most 100 octets.
        guard apn.utf8.count <= 100 else { return .failure(.argumentTooLong) }
        if let required = configuration.requiredAPN, apn != required {
            // 3GPP cause 27: missing or unknown APN.
            return callFailed(reason: 1, verboseType: 6, verboseReason: 27)
        }
        let username = request.tlv(0x17).map { String(decoding: $0, as: UTF8.self) }
        if let required = configuration.requiredCredentials {
            let password = request.tlv(0x18).map { String(decoding: $0, as: UTF8.self) }
            if username != required.username || password != required.password {
                // 3GPP cause 29: user authentication failed.
                return callFailed(reason: 1, verboseType: 6, verboseReason: 29)
            }
        }
        let handle = nextPacketDataHandle()
        sessions[request.clientID] = DataSession(
            clientID: request.clientID, packetDataHandle: handle, apn: apn, username: username,
            authentication: request.tlv(0x16)?.first, address: addressForNewSession()
        )
        return .ok([.u32(0x01, handle)])
    }

    private func callFailed(reason: UInt16, verboseType: UInt16, verboseReason: UInt16) -> Reply {
        var verbose: [UInt8] = []
        verbose.appendLE(verboseType)
        verbose.appendLE(verboseReason)
        return .failure(.callFailed, [.u16(0x10, reason), TLV(type: 0x11, value: verbose)])
    }

    /// WDS Stop Network (0x0021): the handle in TLV 0x01 must be the call's, or the global handle
    /// 0xFFFFFFFF that a client uses for a call it did not start (ModemManager after NoEffect).
    private mutating func stopNetwork(_ request: QMIMessage) -> Reply {
        guard let value = request.tlv(0x01) else { return .failure(.missingArgument) }
        var reader = ByteReader(value)
        guard let handle = reader.u32() else { return .failure(.malformedMessage) }
        guard let call = sessions.values.first(where: { handle == Self.globalHandle || $0.packetDataHandle == handle }) else {
            return .failure(sessions.isEmpty && handle == Self.globalHandle ? .noEffect : .invalidHandle)
        }
        sessions[call.clientID] = nil
        return .ok()
    }

    /// The packet data handle that means "the modem's call, whoever started it".
    static let globalHandle: UInt32 = 0xFFFF_FFFF

    /// WDS Get Current Settings (0x002D): the requested-settings mask (TLV 0x10) picks the TLVs;
    /// the modem's call, whichever client started it; without a call the modem answers OutOfCall.
    private func currentSettings(_ request: QMIMessage) -> Reply {
        guard let session = sessions[request.clientID] ?? sessions.values.first else { return .failure(.outOfCall) }
        var maskReader = ByteReader(request.tlv(0x10) ?? [])
        let mask = maskReader.u32() ?? UInt32.max
        let pool = configuration.addressPool
        var tlvs: [TLV] = []
        if mask & 1 << 3 != 0 { tlvs.append(.string(0x14, session.apn)) }
        if mask & 1 << 4 != 0 {
            for (type, server) in zip([UInt8(0x15), 0x16], configuration.dns) {
                tlvs.append(.u32(type, server.value))
            }
        }
        if mask & 1 << 8 != 0 { tlvs.append(.u32(0x1E, session.address.value)) }
        if mask & 1 << 9 != 0 {
            tlvs.append(.u32(0x20, pool.gateway.value))
            tlvs.append(.u32(0x21, pool.subnetMask.value))
        }
        if mask & 1 << 13 != 0 { tlvs.append(.u32(0x29, configuration.mtu)) }
        if mask & 1 << 15 != 0 { tlvs.append(.u8(0x2B, 4)) }
        return .ok(tlvs)
    }
}
