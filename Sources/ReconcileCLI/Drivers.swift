import Reconciler
import SimulatedDrivers
import Spec

/// The real drivers (udev, QMI, netlink, 3proxy, probes). Wired by the lead when the drivers land;
/// until then it refuses plainly rather than pretend hardware exists.
func makeDrivers(_ options: RootOptions) throws -> DriverSet {
    throw CLIError("real drivers not wired yet: run with --simulated to use a simulated farm (no hardware)")
}

/// A simulated farm with one plugged modem per modem in farm.yaml (SIMs without PIN), starting cold.
func makeSimulatedDrivers(for spec: FarmSpec) async -> DriverSet {
    let farm = SimulatedFarm()
    for modem in spec.modems { await farm.plug(serial: modem.serial) }
    return farm.drivers()
}

/// A CLI failure: printed as `reconcile: error: …`, exit 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
