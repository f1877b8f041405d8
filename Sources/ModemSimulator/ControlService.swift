/// CTL: version info, client id allocation and release, sync.
extension ModemState {
    mutating func control(_ request: QMIMessage) -> Reply {
        switch request.messageID {
        case 0x0021: return versionInfo()
        case 0x0022: return allocateClientID(request)
        case 0x0023: return releaseClientID(request)
        case 0x0027:
            // Sync: the endpoint forgets every client id (libqmi documents this for its SYNC flag).
            for service in Array(clients.keys) {
                for clientID in clients[service] ?? [] { release(service, clientID) }
            }
            return .ok()
        default: return .failure(.invalidQmiCommand)
        }
    }

    /// The services this firmware offers.
    private var offeredServices: [QMIService] {
        QMIService.allCases.filter { $0 != .uim || configuration.hasUIMService }
    }

    private func versionInfo() -> Reply {
        let services = offeredServices
        var list: [UInt8] = [UInt8(services.count)]
        for service in services {
            list.append(service.rawValue)
            list.appendLE(service.version.major)
            list.appendLE(service.version.minor)
        }
        return .ok([TLV(type: 0x01, value: list)])
    }

    private mutating func allocateClientID(_ request: QMIMessage) -> Reply {
        guard let raw = request.tlv(0x01)?.first else { return .failure(.missingArgument) }
        guard let service = QMIService(rawValue: raw), service != .ctl, offeredServices.contains(service) else {
            return .failure(.invalidServiceType)
        }
        let inUse = clients[service] ?? []
        guard inUse.count < configuration.maxClientsPerService else {
            return .failure(.clientIdsExhausted)
        }
        var candidate = lastClientID[service] ?? 0
        repeat {
            candidate = candidate >= 254 ? 1 : candidate + 1
        } while inUse.contains(candidate)
        lastClientID[service] = candidate
        clients[service, default: []].insert(candidate)
        return .ok([TLV(type: 0x01, value: [service.rawValue, candidate])])
    }

    private mutating func releaseClientID(_ request: QMIMessage) -> Reply {
        guard let value = request.tlv(0x01), value.count >= 2 else { return .failure(.missingArgument) }
        guard let service = QMIService(rawValue: value[0]), clients[service]?.contains(value[1]) == true else {
            return .failure(.invalidClientID)
        }
        release(service, value[1])
        return .ok([TLV(type: 0x01, value: [value[0], value[1]])])
    }

    /// Releasing a WDS client ends its data session, as on real firmware without autoconnect.
    private mutating func release(_ service: QMIService, _ clientID: UInt8) {
        clients[service]?.remove(clientID)
        if service == .wds { sessions[clientID] = nil }
    }
}
