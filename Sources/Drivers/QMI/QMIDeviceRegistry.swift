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

    /// Client ids held in a modem, remembered across a close after a timeout so that a reopen
    /// neither syncs away a session nor leaks the helpers' ids.
    private struct HeldIDs {
        var helpers: [QMIService: UInt8] = [:]
        var sessions: Set<UInt8> = []
    }

    private let options: QMIOpenOptions
    private var entries: [String: Entry] = [:]
    private var held: [String: HeldIDs] = [:]
    private var opening: [String: Task<QMIDevice, any Error>] = [:]
    private var allocating: [String: Task<QMIClient, any Error>] = [:]

    init(options: QMIOpenOptions) {
        self.options = options
    }

    /// The open device at `path`. A fresh open syncs — releasing every client id the modem holds,
    /// leaked ones included — only when the caller knows of no session to keep (`sync`) and this
    /// process knows of none either.
    private func device(_ path: String, sync wanted: Bool) async throws -> QMIDevice {
        if let entry = entries[path], entry.device.isGone { await discard(path) }
        if let entry = entries[path] { return entry.device }
        if let task = opening[path] { return try await task.value }
        let sync = wanted && held[path, default: HeldIDs()].sessions.isEmpty
        // Runs on this actor: the entry exists before any caller waiting for the open resumes.
        let task = Task {
            defer { opening[path] = nil }
            let device = try await QMIDevice.open(path, options: options, sync: sync)
            if sync { held[path] = HeldIDs() }
            entries[path] = Entry(device: device)
            return device
        }
        opening[path] = task
        return try await task.value
    }

    /// The helper client of `service` on `path`, allocated on first use (or bound again to the
    /// id this process held before a reopen). `sync`: see `device(_:sync:)`.
    func client(_ service: QMIService, on path: String, sync: Bool = false) async throws -> QMIClient {
        let device = try await device(path, sync: sync)
        if let client = entries[path]?.clients[service] { return client }
        return try await allocateOnce("\(path) \(service)") { [self] in
            let client = try await device.allocateClient(service, reusing: held[path]?.helpers[service])
            guard entries[path]?.device === device else {
                throw QMIError(.modemGone, device: path, operation: "allocate \(service) client", detail: "the device was closed meanwhile")
            }
            entries[path]?.clients[service] = client
            held[path, default: HeldIDs()].helpers[service] = client.cid
            return client
        }
    }

    /// A WDS client for a data session: the one with client id `cid` (bound again after a
    /// restart, without asking the modem) or a newly allocated one. Without `cid` the caller
    /// knows of no session, so a fresh open may sync.
    func sessionClient(on path: String, reusing cid: UInt8?) async throws -> QMIClient {
        let device = try await device(path, sync: cid == nil)
        if let cid, let client = entries[path]?.sessions[cid] { return client }
        let allocate = { [self] () async throws -> QMIClient in
            let client = try await device.allocateClient(.wds, reusing: cid)
            guard entries[path]?.device === device else {
                throw QMIError(.modemGone, device: path, operation: "allocate WDS client", detail: "the device was closed meanwhile")
            }
            entries[path]?.sessions[client.cid] = client
            held[path, default: HeldIDs()].sessions.insert(client.cid)
            return client
        }
        guard let cid else { return try await allocate() }
        return try await allocateOnce("\(path) WDS \(cid)", allocate)
    }

    /// Runs one allocation per key at a time: concurrent callers share its result, so a client
    /// id is never bound twice (libqmi refuses that) nor allocated twice (a leak).
    private func allocateOnce(_ key: String, _ allocate: @escaping @isolated(any) () async throws -> QMIClient) async throws -> QMIClient {
        if let task = allocating[key] { return try await task.value }
        let task = Task {
            defer { allocating[key] = nil }
            return try await allocate()
        }
        allocating[key] = task
        return try await task.value
    }

    /// Forgets a session client; `releaseCID` also frees the client id in the modem, otherwise
    /// the modem no longer knows it (there is nothing to free).
    func dropSession(on path: String, cid: UInt8, releaseCID: Bool) async throws {
        held[path]?.sessions.remove(cid)
        guard let client = entries[path]?.sessions.removeValue(forKey: cid) else { return }
        try await client.device.release(client, keepCID: !releaseCID)
    }

    /// Closes `path` after a timeout or hang-up without talking to the modem. After a hang-up
    /// the modem is gone (or rebooted): its helper ids are forgotten, as they are when the modem
    /// said it no longer knows one (`forgetHelpers`); sessions are the core's to remember.
    func discard(_ path: String, forgetHelpers: Bool = false) async {
        guard let entry = entries.removeValue(forKey: path) else { return }
        if entry.device.isGone { held[path] = nil }
        if forgetHelpers { held[path]?.helpers = [:] }
        await close(entry, releasingHelpers: false)
    }

    /// Closes every device: helper client ids are released, session client ids kept so that the
    /// next process finds its sessions.
    func closeAll() async {
        let all = entries
        entries.removeAll()
        for (path, entry) in all {
            await close(entry, releasingHelpers: true)
            held[path] = nil
        }
    }

    /// Best effort: a vanished or mute modem cannot be told anything, and that must not hang.
    private func close(_ entry: Entry, releasingHelpers: Bool) async {
        let talk = releasingHelpers && !entry.device.isGone
        for client in entry.clients.values { try? await entry.device.release(client, keepCID: !talk) }
        for client in entry.sessions.values { try? await entry.device.release(client, keepCID: true) }
        if !entry.device.isGone { try? await entry.device.close() }
    }
}
