import Foundation

extension StateStore {
    /// Writes status/modems/*.json, status/farm.json and status/metrics.prom for the end of a pass,
    /// and removes the status files of modems that left farm.yaml.
    @discardableResult
    public func writeStatus(_ result: PassResult, desired: DesiredFarm, started: Date, ended: Date,
                            specErrors: [String]? = nil) throws(StateError) -> FarmStatus {
        var modems: [ModemStatus] = []
        for modem in desired.modems {
            let previous = try? readModemStatus(modem.name)
            let status = StatusBuilder.modem(
                modem, observed: result.observed, memory: result.memory[modem.serial], outcome: result.outcomes[modem.name],
                waiting: result.remaining.deferred[modem.name], previous: previous ?? nil, revision: desired.revision, now: ended)
            try writeModemStatus(status)
            modems.append(status)
        }
        let listed = Set(desired.modems.map(\.name))
        for name in statusNames() where !listed.contains(name) { try removeModemStatus(name) }
        var farm = StatusBuilder.farm(modems, observed: result.observed, revision: desired.revision, passStarted: started,
                                      passEnded: ended, converged: result.converged, failedActions: result.failedActions)
        farm.specErrors = specErrors
        try writeFarmStatus(farm)
        try writeMetrics(Metrics.render(farm: farm, modems: modems))
        return farm
    }
}
