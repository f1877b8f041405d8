import Foundation
import Synchronization
import Logging
import Spec

/// One reconcile pass from farm.yaml to status files (DESIGN §1), over a state directory.
public struct FarmReconciler: Sendable {
    public var drivers: DriverSet
    public var settings: ExecutorSettings
    public var logger: Logger
    public var timeZone: TimeZone
    /// Called after every finished action (the daemon's watchdog heartbeat).
    public var progress: @Sendable () -> Void
    /// Entries of requests/ already reported as not being requests: a daemon passes the same one
    /// to every pass, so it says so once.
    public var reported: ReportedOnce
    /// The proxy configs as last rendered: a daemon passes the same one to every pass.
    public var configs: CheckedConfigs

    public init(drivers: DriverSet, settings: ExecutorSettings = ExecutorSettings(),
                logger: Logger = Logger(label: "proxyfarm.reconciler"), timeZone: TimeZone = .current,
                progress: @escaping @Sendable () -> Void = {}, reported: ReportedOnce = ReportedOnce(),
                configs: CheckedConfigs = CheckedConfigs()) {
        self.reported = reported
        self.configs = configs
        self.drivers = drivers
        self.settings = settings
        self.logger = logger
        self.timeZone = timeZone
        self.progress = progress
    }

    /// Everything a pass starts from.
    public struct Inputs: Sendable {
        public var desired: DesiredFarm
        public var allocations: Allocations
        public var memory: [String: ModemMemory]
        /// Modems that left farm.yaml but may still run a proxy of ours.
        public var formerModems: Set<String>
    }

    public func inputs(spec: FarmSpec, store: StateStore, secrets: SecretResolver, revision: String) throws(StateError) -> Inputs {
        let previous = try store.loadAllocations()
        let (allocations, failures) = previous.updated(for: spec)
        let desired = DesiredFarm.resolve(spec: spec, allocations: allocations, allocationFailures: failures, secrets: secrets,
                                          stateDirectory: store.root, revision: revision, timeZone: timeZone, configs: configs)
        let listed = Set(spec.modems.map(\.name))
        let former = Set(previous.modems.values.map(\.name) + store.statusNames()).subtracting(listed)
        return Inputs(desired: desired, allocations: allocations, memory: try store.loadMemory(), formerModems: former)
    }

    /// The dry run: looks and plans, changes nothing (not even the state directory).
    public func plan(spec: FarmSpec, store: StateStore, secrets: SecretResolver, revision: String) async throws -> Plan {
        let inputs = try inputs(spec: spec, store: store, secrets: secrets, revision: revision)
        let executor = Executor(drivers: drivers, settings: settings, store: nil, logger: logger)
        let requests = store.requests.contents().requests
        return try await executor.plan(inputs.desired, memory: inputs.memory, extraProxies: inputs.formerModems, requests: Set(requests)).0
    }

    /// Applies one pass under the store's lock and writes allocations, memory and status.
    /// Operator requests waiting in state/requests/ are acted on when their modem can be, at most
    /// once (see `RequestInbox`); a request for a modem farm.yaml does not list is logged and dropped.
    /// `specErrors` (farm.yaml's diagnostics while an older valid spec is in force) go into farm.json.
    /// Throws `CancellationError` when cancelled between actions, after recording what was done.
    public func apply(spec: FarmSpec, store: StateStore, secrets: SecretResolver, revision: String,
                      specErrors: [String]? = nil) async throws -> (PassResult, FarmStatus) {
        let started = drivers.clock.now()
        let inputs = try inputs(spec: spec, store: store, secrets: secrets, revision: revision)
        try store.saveAllocations(inputs.allocations)
        let executor = Executor(drivers: drivers, settings: settings, store: store, logger: logger, progress: progress)
        let pending = takeInbox(store: store, spec: spec, memory: inputs.memory)
        let result = try await executor.pass(inputs.desired, memory: inputs.memory, extraProxies: inputs.formerModems, requests: Set(pending))
        for request in result.answeredRequests.sorted(by: { $0.fileName < $1.fileName }) { consume(request, store: store) }
        if result.interrupted { throw CancellationError() }
        let farm = try store.writeStatus(result, desired: inputs.desired, started: started, ended: drivers.clock.now(), specErrors: specErrors)
        return (result, farm)
    }
}

extension FarmReconciler {
    /// The requests this pass may act on. Strangers are reported once and left alone; requests for
    /// modems farm.yaml does not list are dropped; a request an earlier pass already took (its
    /// memory holds the same file identity) is only removed. Nothing here fails the pass.
    func takeInbox(store: StateStore, spec: FarmSpec, memory: [String: ModemMemory]) -> [ModemRequest] {
        let inbox = store.requests.contents()
        for stranger in inbox.strangers where reported.isNew(stranger) {
            logger.warning("\(store.requests.directory)/\(stranger) is not a request (a regular file named rotate-NAME or reset-NAME); left alone")
        }
        var pending: [ModemRequest] = []
        for request in inbox.requests {
            guard let modem = spec.modems.first(where: { $0.name == request.modem }) else {
                logger.error("request \(request) dropped: farm.yaml lists no modem \(request.modem)")
                consume(request, store: store)
                continue
            }
            if let identity = inbox.identities[request], memory[modem.serial]?.takenRequests?.contains(TakenRequest(file: request.fileName, identity: identity)) == true {
                logger.notice("request \(request) was already taken by an earlier pass; removing it without acting again")
                consume(request, store: store)
                continue
            }
            pending.append(request)
        }
        return pending
    }

    /// Removes a taken request's file; a failure is logged, never fatal (memory says it was taken).
    func consume(_ request: ModemRequest, store: StateStore) {
        do {
            try store.requests.consume(request)
        } catch {
            logger.warning("request \(request) was taken but its file stays: \(error.message)")
        }
    }
}

/// Names already reported, so that a long-running process says each once rather than every pass.
public final class ReportedOnce: Sendable {
    private let seen = Mutex<Set<String>>([])

    public init() {}

    func isNew(_ name: String) -> Bool { seen.withLock { $0.insert(name).inserted } }
}
