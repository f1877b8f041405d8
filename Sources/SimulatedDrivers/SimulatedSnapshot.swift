import Foundation
import Reconciler

/// Lets `reconcile --simulated` keep its farm between runs, so that a pass and the dry run after
/// it see the same simulated world. The snapshot holds rendered proxy configs (secrets): whoever
/// stores it must keep it private (mode 0600), like real proxy configs.
extension SimulatedFarm {
    struct Snapshot: Codable {
        var modems: [Modem]
        var network: NetworkState
        var proxies: [String: Proxy]
        var configs: [String: String]
        var strays: [Int32: [Int]]
        var nextPid: Int32
    }

    public func snapshot() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(Snapshot(modems: modems, network: networkState, proxies: proxies, configs: configs,
                                           strays: strays, nextPid: nextPid))
    }

    public func restore(_ data: Data) throws {
        let snapshot = try JSONDecoder().decode(Snapshot.self, from: data)
        modems = snapshot.modems
        reindex()
        networkState = snapshot.network
        proxies = snapshot.proxies
        configs = snapshot.configs
        strays = snapshot.strays
        nextPid = snapshot.nextPid
    }

    /// Serials of the plugged modems (their IMEIs).
    public var pluggedSerials: [String] { modems.map(\.imei) }
}
