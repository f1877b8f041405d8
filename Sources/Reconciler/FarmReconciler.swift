import Foundation
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

    public init(drivers: DriverSet, settings: ExecutorSettings = ExecutorSettings(),
                logger: Logger = Logger(label: "proxyfarm.reconciler"), timeZone: TimeZone = .current,
                progress: @escaping @Sendable () -> Void = {}) {
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
                                          stateDirectory: store.root, revision: revision, timeZone: timeZone)
        let listed = Set(spec.modems.map(\.name))
        let former = Set(previous.modems.values.map(\.name) + store.statusNames()).subtracting(listed)
        return Inputs(desired: desired, allocations: allocations, memory: try store.loadMemory(), formerModems: former)
    }

    /// The dry run: looks and plans, changes nothing (not even the state directory).
    public func plan(spec: FarmSpec, store: StateStore, secrets: SecretResolver, revision: String) async throws -> Plan {
        let inputs = try inputs(spec: spec, store: store, secrets: secrets, revision: revision)
        let executor = Executor(drivers: drivers, settings: settings, store: nil, logger: logger)
        let requests = try store.requests.contents().requests
        return try await executor.plan(inputs.desired, memory: inputs.memory, extraProxies: inputs.formerModems, requests: Set(requests)).0
    }

    /// Applies one pass under the store's lock and writes allocations, memory and status.
    /// Operator requests waiting in state/requests/ are acted on when their modem can be, and
    /// consumed once acted on; a request for a modem farm.yaml does not list is logged and dropped.
    /// `specErrors` (farm.yaml's diagnostics while an older valid spec is in force) go into farm.json.
    /// Throws `CancellationError` when cancelled between actions, after recording what was done.
    public func apply(spec: FarmSpec, store: StateStore, secrets: SecretResolver, revision: String,
                      specErrors: [String]? = nil) async throws -> (PassResult, FarmStatus) {
        let started = drivers.clock.now()
        let inputs = try inputs(spec: spec, store: store, secrets: secrets, revision: revision)
        try store.saveAllocations(inputs.allocations)
        let executor = Executor(drivers: drivers, settings: settings, store: store, logger: logger, progress: progress)
        let inbox = try store.requests.contents()
        for stranger in inbox.strangers { logger.warning("\(store.requests.directory)/\(stranger) is not a request (rotate-NAME or reset-NAME); left alone") }
        let listed = Set(spec.modems.map(\.name))
        let (known, unknown) = (inbox.requests.filter { listed.contains($0.modem) }, inbox.requests.filter { !listed.contains($0.modem) })
        for request in unknown {
            logger.error("request \(request) dropped: farm.yaml lists no modem \(request.modem)")
            try store.requests.consume(request)
        }
        let result = try await executor.pass(inputs.desired, memory: inputs.memory, extraProxies: inputs.formerModems, requests: Set(known))
        for request in result.answeredRequests.sorted(by: { $0.fileName < $1.fileName }) { try store.requests.consume(request) }
        if result.interrupted { throw CancellationError() }
        let farm = try store.writeStatus(result, desired: inputs.desired, started: started, ended: drivers.clock.now(), specErrors: specErrors)
        return (result, farm)
    }
}
