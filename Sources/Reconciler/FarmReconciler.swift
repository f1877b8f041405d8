import Foundation
import Logging
import Spec

/// One reconcile pass from farm.yaml to status files (DESIGN §1), over a state directory.
public struct FarmReconciler: Sendable {
    public var drivers: DriverSet
    public var settings: ExecutorSettings
    public var logger: Logger
    public var timeZone: TimeZone

    public init(drivers: DriverSet, settings: ExecutorSettings = ExecutorSettings(),
                logger: Logger = Logger(label: "proxyfarm.reconciler"), timeZone: TimeZone = .current) {
        self.drivers = drivers
        self.settings = settings
        self.logger = logger
        self.timeZone = timeZone
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
        return try await executor.plan(inputs.desired, memory: inputs.memory, extraProxies: inputs.formerModems,
                                       requests: store.pendingRequests()).0
    }

    /// Applies one pass under the store's lock and writes allocations, memory and status. Operator
    /// requests waiting in state/requests/ are acted on (when their modem can be) and consumed.
    public func apply(spec: FarmSpec, store: StateStore, secrets: SecretResolver, revision: String) async throws -> (PassResult, FarmStatus) {
        let started = drivers.clock.now()
        let inputs = try inputs(spec: spec, store: store, secrets: secrets, revision: revision)
        try store.saveAllocations(inputs.allocations)
        let executor = Executor(drivers: drivers, settings: settings, store: store, logger: logger)
        let requests = store.pendingRequests()
        let result = try await executor.pass(inputs.desired, memory: inputs.memory, extraProxies: inputs.formerModems, requests: requests)
        let farm = try store.writeStatus(result, desired: inputs.desired, started: started, ended: drivers.clock.now())
        for request in requests { try store.consume(request) }
        return (result, farm)
    }
}
