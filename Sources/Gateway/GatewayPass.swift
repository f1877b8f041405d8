import Foundation
import Reconciler
import Spec

/// The gateway's state directory: its sticky entry ports (`entries.json`) and its status
/// (`gateway.json`), next to the files HAProxy runs from.
public struct GatewayStore: Sendable {
    public let root: String

    /// `creating: false` only reads (`reconcile gateway status`).
    public init(root: String, creating: Bool = true) throws(StateError) {
        self.root = root
        guard creating else { return }
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            throw StateError(reason: "StateIOError", message: "cannot create \(root): \(error.localizedDescription)")
        }
    }

    var entriesPath: String { root + "/entries.json" }
    public var statusPath: String { root + "/gateway.json" }

    public func loadEntries() throws(StateError) -> EntryAllocations { try read(EntryAllocations.self, entriesPath) ?? EntryAllocations() }
    public func saveEntries(_ entries: EntryAllocations) throws(StateError) { try write(entries, entriesPath) }
    public func loadStatus() throws(StateError) -> GatewayStatus? { try read(GatewayStatus.self, statusPath) }
    public func saveStatus(_ status: GatewayStatus) throws(StateError) { try write(status, statusPath) }

    private func read<T: Decodable>(_ type: T.Type, _ path: String) throws(StateError) -> T? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw StateError(reason: "StateIOError", message: "cannot read \(path): \(error)")
        }
    }

    private func write<T: Encodable>(_ value: T, _ path: String) throws(StateError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try AtomicFile.write(try encoder.encode(value) + Data("\n".utf8), to: path)
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError(reason: "StateIOError", message: "cannot encode \(path): \(error)")
        }
    }
}

/// `state/gateway.json`: every modem's entry ports and whether HAProxy has it in service.
public struct GatewayStatus: Codable, Sendable, Equatable {
    public struct Modem: Codable, Sendable, Equatable {
        public var name: String
        public var host: String
        public var entry: EntryAllocations.Ports
        /// HAProxy's server state per service (`UP`, `DOWN`…); `unknown` before HAProxy runs.
        public var state: [String: String]
    }
    public var modems: [Modem]
    /// The farm.yaml revision the running HAProxy serves.
    public var revision: String
    /// Why the last pass could not change HAProxy; nil when it matches farm.yaml.
    public var error: String?
}

/// One pass of `reconcile gateway`: allocate entry ports, render, compare with the running
/// HAProxy, apply the one action, record the status. Level-triggered like the farm's passes.
public struct GatewayReconciler: Sendable {
    public let driver: any GatewayDriver
    public let paths: HAProxyFiles.Paths

    public init(driver: any GatewayDriver, paths: HAProxyFiles.Paths) {
        self.driver = driver
        self.paths = paths
    }

    public struct Plan: Sendable {
        public var action: GatewayAction?
        public var files: HAProxyFiles
        public var entries: EntryAllocations
        public var desired: GatewayDesired
    }

    /// The plan: exactly what `apply` would do. Changes nothing.
    public func plan(spec: FarmSpec, store: GatewayStore) async throws -> Plan {
        guard let entries = EntryAllocations.allocate(spec, previous: try store.loadEntries()),
              let desired = GatewayDesired.of(spec, entries: entries) else {
            throw GatewayError(reason: "NoGateway", message: "farm.yaml has no gateway: (with api: and hosts:); nothing for a gateway to do")
        }
        let files = HAProxyFiles.render(desired, paths: paths)
        let observed = try await driver.observe()
        return Plan(action: GatewayAction.plan(desired: files, observed: observed), files: files, entries: entries, desired: desired)
    }

    /// Applies the plan and records the outcome in `gateway.json`. Entry ports are saved before
    /// HAProxy binds them, so a port once handed out stays the modem's.
    @discardableResult
    public func apply(spec: FarmSpec, store: GatewayStore, revision: String) async throws -> GatewayStatus {
        let plan = try await plan(spec: spec, store: store)
        try store.saveEntries(plan.entries)
        var failure: String?
        if let action = plan.action {
            do {
                try await driver.apply(action, files: plan.files)
            } catch {
                failure = error.description
            }
        }
        let observed = try await driver.observe()
        let previous = try store.loadStatus()
        let status = GatewayStatus(
            modems: Self.modems(plan.desired, entries: plan.entries, spec: spec, servers: observed.servers),
            revision: failure == nil ? revision : previous?.revision ?? "none", error: failure)
        try store.saveStatus(status)
        return status
    }

    static func modems(_ desired: GatewayDesired, entries: EntryAllocations, spec: FarmSpec, servers: [String: String]) -> [GatewayStatus.Modem] {
        spec.modems.compactMap { modem in
            guard let entry = entries.modems[modem.serial], let host = modem.host else { return nil }
            let routes = desired.routes.filter { $0.modem == modem.name }
            let state = Dictionary(uniqueKeysWithValues: routes.map { route in
                (route.service.rawValue, servers["\(route.modem)_\(route.service.rawValue)"] ?? "unknown")
            })
            return GatewayStatus.Modem(name: modem.name, host: host, entry: entry, state: state)
        }
    }
}
