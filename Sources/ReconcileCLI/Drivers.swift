import Drivers
import Foundation
import Reconciler
import SimulatedDrivers
import Spec

/// The real drivers: modems found by libudev and driven over QMI, routing through iproute2,
/// one 3proxy per modem, health probes sent as each modem's proxy uid.
func makeDrivers(_ options: RootOptions) throws -> DriverSet {
    DriverSet(inventory: UDevModemInventory(),
              modems: QMIModemControl(),
              network: IPRouteNetworkControl(),
              proxies: ThreeProxySupervisor(stateDirectory: options.absoluteStateDirectory, binary: options.proxyBinary),
              health: SocketHealthProbe())
}

/// A simulated farm kept in the state directory between runs (state/simulated-farm.json, mode
/// 0600: it holds rendered proxy configs). Every modem of farm.yaml not yet plugged is plugged in
/// (a SIM without PIN); modems that left farm.yaml stay plugged, as real hardware would.
struct SimulatedBackend {
    let farm = SimulatedFarm()
    let path: String

    init(stateDirectory: String, spec: FarmSpec) async throws {
        path = stateDirectory + "/simulated-farm.json"
        if let data = FileManager.default.contents(atPath: path) {
            do {
                try await farm.restore(data)
            } catch {
                throw CLIError("cannot read the simulated farm \(path): \(error); delete it to start a fresh one")
            }
        }
        let plugged = Set(await farm.pluggedSerials)
        for modem in spec.modems where !plugged.contains(modem.serial) { await farm.plug(serial: modem.serial) }
    }

    func save() async throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try AtomicFile.write(try await farm.snapshot(), to: path, mode: 0o600)
    }
}

/// A CLI failure: printed as `reconcile: error: …`, exit 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
