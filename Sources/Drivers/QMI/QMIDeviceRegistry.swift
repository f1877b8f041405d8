import CQMI
import Reconciler
import Synchronization

/// The open control devices of this process and their clients, kept across calls so that
/// client ids are allocated once, not per request. Devices are never opened with SYNC (which
/// would end every other process's sessions on a shared modem): ids a killed process left are
/// freed from the ledger instead, when this process first opens their device.
actor QMIDeviceRegistry {
    private struct Entry {
        var device: QMIDevice
        /// One client per helper service (DMS, UIM, WDA, NAS), released with the device.
        var clients: [QMIService: QMIClient] = [:]
        /// WDS clients by client id: each may carry a data session and is never released implicitly.
        var sessions: [UInt8: QMIClient] = [:]
        /// The last full look at the modem and when it was taken; it goes with the device.
        var look: (state: ModemState, at: ContinuousClock.Instant)?
    }

    /// Client ids held in a modem, remembered across a close after a timeout so that a reopen
    /// does not leak the helpers' ids.
    private struct HeldIDs {
        var helpers: [QMIService: UInt8] = [:]
        var sessions: Set<UInt8> = []
    }

    private let options: QMIOpenOptions
    private var entries: [String: Entry] = [:]
    private var held: [String: HeldIDs] = [:]
    private var opening: [String: Task<QMIDevice, any Error>] = [:]
    private var allocating: [String: Task<QMIClient, any Error>] = [:]
    private let ledger: QMIClientLedger?
    /// Modems whose last request went unanswered: asked with `options.unansweredTimeout` until
    /// one answers. Readable without the actor, so that an answer costs no hop while all is well.
    private let unanswered = Mutex<Set<String>>([])

    init(options: QMIOpenOptions) {
        self.options = options
        ledger = options.ledgerDirectory.map(QMIClientLedger.init(directory:))
    }

    /// The open device at `path`.
    private func device(_ path: String) async throws -> QMIDevice {
        if let entry = entries[path], entry.device.isGone { await discard(path) }
        if let entry = entries[path] { return entry.device }
        if let task = opening[path] { return try await task.value }
        // Runs on this actor: the entry exists before any caller waiting for the open resumes.
        let task = Task {
            defer { opening[path] = nil }
            let timeout = unanswered.withLock { $0.contains(path) } ? options.unansweredTimeout : options.timeout
            let device = try await QMIDevice.open(path, options: options, sync: false, timeout: timeout)
            entries[path] = Entry(device: device)
            return device
        }
        opening[path] = task
        return try await task.value
    }

    /// The helper client of `service` on `path`, allocated on first use (or bound again to the
    /// id this process held before a reopen).
    func client(_ service: QMIService, on path: String) async throws -> QMIClient {
        let device = try await device(path)
        if let client = entries[path]?.clients[service] { return client }
        return try await allocateOnce("\(path) \(service)") { [self] in
            let client = try await device.allocateClient(service, reusing: held[path]?.helpers[service])
            guard entries[path]?.device === device else {
                throw QMIError(.modemGone, device: path, operation: "allocate \(service) client", detail: "the device was closed meanwhile")
            }
            entries[path]?.clients[service] = client
            held[path, default: HeldIDs()].helpers[service] = client.cid
            ledger?.record(.init(device: path, service: service, cid: client.cid))
            return client
        }
    }

    /// A WDS client for a data session: the one with client id `cid` (bound again after a
    /// restart, without asking the modem) or a newly allocated one, which stays in the ledger until
    /// `handOver` (its session started) or `dropSession`.
    func sessionClient(on path: String, reusing cid: UInt8?) async throws -> QMIClient {
        let device = try await device(path)
        if let cid, entries[path]?.clients[.wds]?.cid == cid {
            // A rebooted (replugged) modem handed the remembered session's id to this process's
            // own WDS client: the session died with the reboot, as InvalidClientId would say.
            throw QMIError(.qmiError, device: path, operation: "reuse WDS client \(cid)",
                           detail: "the modem gave this client id to another client since", protocolCode: Int(QMI_PROTOCOL_ERROR_INVALID_CLIENT_ID.rawValue))
        }
        if let cid, let client = entries[path]?.sessions[cid] { return client }
        let allocate = { [self] () async throws -> QMIClient in
            let client = try await device.allocateClient(.wds, reusing: cid)
            guard entries[path]?.device === device else {
                throw QMIError(.modemGone, device: path, operation: "allocate WDS client", detail: "the device was closed meanwhile")
            }
            entries[path]?.sessions[client.cid] = client
            held[path, default: HeldIDs()].sessions.insert(client.cid)
            if cid == nil { ledger?.record(.init(device: path, service: .wds, cid: client.cid)) }
            return client
        }
        guard let cid else { return try await allocate() }
        return try await allocateOnce("\(path) WDS \(cid)", allocate)
    }

    /// The last full look at the modem on `path` (`remember`), while its device stays open.
    func lastLook(on path: String) -> (state: ModemState, at: ContinuousClock.Instant)? {
        guard let entry = entries[path], !entry.device.isGone else { return nil }
        return entry.look
    }

    /// Keeps `state` as the modem's last full look, taken now; nil forgets it (the modem is
    /// about to be changed).
    func remember(_ state: ModemState?, on path: String) {
        entries[path]?.look = state.map { ($0, ContinuousClock.now) }
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
        ledger?.forget(.init(device: path, service: .wds, cid: cid))
        guard let client = entries[path]?.sessions.removeValue(forKey: cid) else { return }
        try await client.device.release(client, keepCID: !releaseCID)
    }

    /// A session started on `cid`: from now on the reconciler's memory keeps its client id.
    func handOver(on path: String, cid: UInt8) {
        ledger?.forget(.init(device: path, service: .wds, cid: cid))
    }

    /// Frees the ids dead processes left on `path` (see `QMIClientLedger`): binds each without
    /// asking the modem, then releases it. An id the modem no longer knows (it rebooted) is gone
    /// already; the ledger forgets it either way. Cheap when there is nothing to free (a look at
    /// a small directory), so every look at a modem does it: a daemon also frees what a killed
    /// dry run left beside it.
    func reclaimOrphans(on path: String) async throws {
        guard let ledger else { return }
        let device = try await device(path)
        for orphan in ledger.adoptOrphans(on: device.path) {
            if let client = try? await device.allocateClient(orphan.service, reusing: orphan.cid) {
                try? await device.release(client, keepCID: false)
            }
            ledger.forget(orphan)
        }
    }

    /// The modem on `path` answered: its requests get the full timeout again.
    nonisolated func answered(on path: String) async {
        guard unanswered.withLock({ $0.contains(path) }) else { return }
        await restoreTimeout(on: path)
    }

    private func restoreTimeout(on path: String) {
        unanswered.withLock { _ = $0.remove(path) }
        entries[path]?.device.timeout = options.timeout
    }

    /// Closes `path` after a timeout or hang-up without talking to the modem; after a timeout
    /// (`unanswered`) it is asked with the shorter timeout until it answers. After a hang-up
    /// the modem is gone (or rebooted): its helper ids are forgotten, as they are when the modem
    /// said it no longer knows one (`forgetHelpers`); sessions are the core's to remember.
    func discard(_ path: String, forgetHelpers: Bool = false, unanswered timedOut: Bool = false) async {
        if timedOut { unanswered.withLock { _ = $0.insert(path) } }
        guard let entry = entries.removeValue(forKey: path) else { return }
        if entry.device.isGone { held[path] = nil }
        if forgetHelpers { held[path]?.helpers = [:] }
        await close(entry, releasingHelpers: false)
        if forgetHelpers { for (service, client) in entry.clients { ledger?.forget(.init(device: path, service: service, cid: client.cid)) } }
    }

    /// Closes every device: helper client ids are released, session client ids kept so that the
    /// next process finds its sessions.
    func closeAll() async {
        let all = entries
        entries.removeAll()
        for (path, entry) in all {
            await close(entry, releasingHelpers: true)
            if !entry.device.isGone {
                for (service, client) in entry.clients { ledger?.forget(.init(device: path, service: service, cid: client.cid)) }
            }
            held[path] = nil
        }
        ledger?.closeIfEmpty()
    }

    /// Best effort: a vanished or mute modem cannot be told anything, and that must not hang.
    private func close(_ entry: Entry, releasingHelpers: Bool) async {
        let talk = releasingHelpers && !entry.device.isGone
        for client in entry.clients.values { try? await entry.device.release(client, keepCID: !talk) }
        for client in entry.sessions.values { try? await entry.device.release(client, keepCID: true) }
        if !entry.device.isGone { try? await entry.device.close() }
    }
}
