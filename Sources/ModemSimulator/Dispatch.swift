/// The outcome of one request: the result TLV is added when the response is built.
struct Reply {
    var error: QMIErrorCode?
    var tlvs: [TLV]

    static func ok(_ tlvs: [TLV] = []) -> Reply { Reply(error: nil, tlvs: tlvs) }
    static func failure(_ error: QMIErrorCode, _ tlvs: [TLV] = []) -> Reply { Reply(error: error, tlvs: tlvs) }
}

extension ModemState {
    /// Answers one request the way firmware does: every request gets a response carrying the
    /// result TLV; requests the simulator does not implement fail with InvalidQmiCommand.
    mutating func respond(to request: QMIMessage) -> QMIMessage {
        record(request)
        let reply = reply(to: request)
        return response(to: request, reply)
    }

    /// Keeps the most recent requests only, so a lab modem polled for days stays small.
    mutating func record(_ request: QMIMessage) {
        if requests.count >= 2048 { requests.removeFirst(1024) }
        requests.append(ReceivedRequest(service: request.service, clientID: request.clientID,
                                        messageID: request.messageID))
    }

    func response(to request: QMIMessage, _ reply: Reply) -> QMIMessage {
        var result: [UInt8] = []
        result.appendLE(UInt16(reply.error == nil ? 0 : 1))
        result.appendLE(reply.error?.rawValue ?? 0)
        return QMIMessage(service: request.service, clientID: request.clientID,
                          transactionID: request.transactionID, messageID: request.messageID,
                          tlvs: [TLV(type: 0x02, value: result)] + reply.tlvs)
    }

    private mutating func reply(to request: QMIMessage) -> Reply {
        guard let service = QMIService(rawValue: request.service) else {
            return .failure(.invalidQmiCommand)
        }
        if service != .ctl, clients[service]?.contains(request.clientID) != true {
            return .failure(.invalidClientID)
        }
        switch service {
        case .ctl: return control(request)
        case .dms: return deviceManagement(request)
        case .uim: return simCard(request)
        case .wds: return wirelessData(request)
        case .wda: return dataAdministration(request)
        case .nas: return networkAccess(request)
        }
    }
}

extension TLV {
    static func u8(_ type: UInt8, _ value: UInt8) -> TLV { TLV(type: type, value: [value]) }
    static func u16(_ type: UInt8, _ value: UInt16) -> TLV { TLV(type: type, value: .le(value)) }
    static func u32(_ type: UInt8, _ value: UInt32) -> TLV { TLV(type: type, value: .le(value)) }
    static func string(_ type: UInt8, _ value: String) -> TLV { TLV(type: type, value: Array(value.utf8)) }
}
