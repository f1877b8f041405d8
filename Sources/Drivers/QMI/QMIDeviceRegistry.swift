/// The open control devices of this process and their clients, kept across calls so that
/// client ids are allocated once, not per request.
actor QMIDeviceRegistry {
    private struct Entry {
        var device: QMIDevice
        /// One client per helper service (DMS, UIM, WDA, NAS), released with the device.
        var clients: [QMIService: QMIClient] = [:]
        /// WDS clients by client id: each may carry a data session and is never released implicitly.
        var sessions: [UInt8: QMIClient] = [:]
    }

    private let options: QMIOpenOptions
    private var entries: [String: Entry] = [:]
    private var opening: [String: Task<QMIDevice, any Error>] = [:]

    init(options: QMIOpenOptions) {
        self.options = options
    }

    /// The open device at `path`. The first open syncs (releasing every client id the modem
    /// holds) unless `preservingClients`: a remembered session's client id must survive.
    func device(_ path: String, preservingClients: Bool) async throws -> QMIDevice {
        if let entry = entries[path], !entry.device.isGone { return entry.device }
        if let entry = entries.removeValue(forKey: path) { await close(entry, releasingHelpers: false) }
        if let task = opening[path] { return try await task.value }
        let options = options
        let task = Task { try await QMIDevice.open(path, options: options, sync: !preservingClients) }
        opening[path] = task
        defer { opening[path] = nil }
        let device = try await task.value
        entries[path] = Entry(device: device)
        return device
    }

    /// The helper client of `service` on `path`, allocated on first use.
    func client(_ service: QMIService, on path: String, preservingClients: Bool = false) async throws -> QMIClient {
        let device = try await device(path, preservingClients: preservingClients)
        if let client = entries[path]?.clients[service] { return client }
        let client = try await device.allocateClient(service)
        guard entries[path]?.device === device else {
            try? await device.release(client, keepCID: false)
            throw QMIError(.modemGone, device: path, operation: "allocate \(service) client", detail: "the device was closed meanwhile")
        }
        if let raced = entries[path]?.clients[service] {
            try? await device.release(client, keepCID: false)
            return raced
        }
        entries[path]?.clients[service] = client
        return client
    }

    /// A WDS client for a data session: the one with client id `cid` (bound again after a
    /// restart, without asking the modem) or a newly allocated one.
    func sessionClient(on path: String, reusing cid: UInt8?) async throws -> QMIClient {
        let device = try await device(path, preservingClients: cid != nil)
        if let cid, let client = entries[path]?.sessions[cid] { return client }
        let client = try await device.allocateClient(.wds, reusing: cid)
        if let raced = entries[path]?.sessions[client.cid] { return raced }
        entries[path]?.sessions[client.cid] = client
        return client
    }

    /// Forgets a session client; `releaseCID` also frees the client id in the modem.
    func dropSession(on path: String, cid: UInt8, releaseCID: Bool) async throws {
        guard let client = entries[path]?.sessions.removeValue(forKey: cid) else { return }
        try await client.device.release(client, keepCID: !releaseCID)
    }

    /// Closes `path` after a timeout or hang-up, keeping session client ids in the modem.
    func discard(_ path: String) async {
        guard let entry = entries.removeValue(forKey: path) else { return }
        await close(entry, releasingHelpers: false)
    }

    /// Closes every device: helper client ids are released, session client ids kept so that the
    /// next process finds its sessions.
    func closeAll() async {
        let all = entries
        entries.removeAll()
        for entry in all.values { await close(entry, releasingHelpers: true) }
    }

    /// Best effort: a vanished or mute modem cannot be told anything, and that must not hang.
    private func close(_ entry: Entry, releasingHelpers: Bool) async {
        let talk = releasingHelpers && !entry.device.isGone
        for client in entry.clients.values { try? await entry.device.release(client, keepCID: !talk) }
        for client in entry.sessions.values { try? await entry.device.release(client, keepCID: true) }
        if !entry.device.isGone { try? await entry.device.close() }
    }
}
