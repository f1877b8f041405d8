import Drivers
import Foundation
import Reconciler
import SimulatedDrivers
import Spec

/// The real drivers: modems found by libudev and driven over QMI, routing through iproute2,
/// one 3proxy per modem, health probes sent as each modem's proxy uid. With `udevChanges` (the
/// daemon's udev monitor) the inventory keeps its last scan until udev reports a change.
func makeDrivers(_ options: RootOptions, udevChanges: UDevChanges? = nil, proxies: ThreeProxySupervisor) throws -> DriverSet {
    DriverSet(inventory: UDevModemInventory(changes: udevChanges),
              modems: QMIModemControl(options: .shared()),
              network: IPRouteNetworkControl(),
              proxies: proxies,
              health: SocketHealthProbe())
}

/// A simulated farm kept in the state directory between runs (state/simulated-farm.json, mode
/// 0600: it holds rendered proxy configs). Every modem of farm.yaml not yet plugged is plugged in
/// (a SIM without PIN); modems that left farm.yaml stay plugged, as real hardware would. A daemon
/// keeps one farm in memory for its lifetime and saves it after every pass.
struct SimulatedBackend {
    let farm = SimulatedFarm()
    let path: String

    init(stateDirectory: String) async throws {
        path = stateDirectory + "/simulated-farm.json"
        if let data = FileManager.default.contents(atPath: path) {
            do {
                try await farm.restore(data)
            } catch {
                throw CLIError("cannot read the simulated farm \(path): \(error); delete it to start a fresh one")
            }
        }
    }

    /// Plugs in the modems of `spec` the farm does not have yet.
    func plugNew(_ spec: FarmSpec) async {
        let plugged = Set(await farm.pluggedSerials)
        for modem in spec.modems where !plugged.contains(modem.serial) { await farm.plug(serial: modem.serial) }
    }

    func save() async throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try AtomicFile.write(try await farm.snapshot(), to: path, mode: 0o600)
    }
}

/// The drivers a run works through: the real ones, or a simulated farm (`--simulated`).
struct Backend {
    let drivers: DriverSet
    let simulated: SimulatedBackend?
    /// The real proxies, whose exits wake the daemon (nil for a simulated farm).
    let proxies: ThreeProxySupervisor?

    init(_ options: RootOptions, udevChanges: UDevChanges? = nil) async throws {
        if options.simulated {
            printError("reconcile: simulated farm (no hardware), kept in \(options.absoluteStateDirectory)/simulated-farm.json")
            let simulated = try await SimulatedBackend(stateDirectory: options.absoluteStateDirectory)
            self.simulated = simulated
            drivers = simulated.farm.drivers()
            proxies = nil
        } else {
            simulated = nil
            let proxies = ThreeProxySupervisor(stateDirectory: options.absoluteStateDirectory, binary: options.proxyBinary)
            drivers = try makeDrivers(options, udevChanges: udevChanges, proxies: proxies)
            self.proxies = proxies
        }
    }

    /// Runs `pass` so that SIGTERM or SIGINT stop it between actions (the action in flight
    /// finishes), then frees what this process holds in the modems — whether the pass ended,
    /// failed or was stopped — so that no QMI client id outlives it.
    func closingModems<T: Sendable>(_ pass: @escaping @Sendable () async throws -> T) async throws -> T {
        let signals = SignalEvents([.terminate, .interrupt])
        let task = Task { try await pass() }
        let stopper = Task {
            for await signal in signals.signals {
                printError("reconcile: \(signal): stopping after the action in flight")
                task.cancel()
            }
        }
        let result = await task.result
        stopper.cancel()
        signals.stop()
        await drivers.modems.shutdown()
        return try result.get()
    }

    /// One pass under `store`'s lock, with the simulated farm (if any) plugged for `spec` before
    /// and saved after, also when the pass fails or is stopped.
    func apply(_ reconciler: FarmReconciler, spec: FarmSpec, store: StateStore, secrets: @escaping SecretResolver, revision: String,
               specErrors: [String]? = nil) async throws -> (PassResult, FarmStatus) {
        await simulated?.plugNew(spec)
        do {
            let outcome = try await reconciler.apply(spec: spec, store: store, secrets: secrets, revision: revision, specErrors: specErrors)
            try await simulated?.save()
            return outcome
        } catch {
            try await simulated?.save()
            throw error
        }
    }
}

/// Secrets as farm.yaml names them: files relative to the farm file, the process environment.
func secretResolver(relativeTo file: String) -> SecretResolver {
    let directory = PlainText.directory(of: file)
    let base = directory.isEmpty ? "." : directory
    let environment = ProcessInfo.processInfo.environment
    return { source in
        Result { () throws(SecretError) in try source.resolve(baseDirectory: base, environment: environment) }
            .mapError { SecretFailure($0.message) }
    }
}

/// A CLI failure: printed as `reconcile: error: …`, exit 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
