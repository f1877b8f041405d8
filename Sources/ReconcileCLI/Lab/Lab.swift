import ArgumentParser

/// `reconcile lab`: simulated hardware for trying ProxyFarm without modems. The lab issue adds
/// `up`/`down`/`demo` next to `modem`.
struct Lab: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Simulated hardware for trying ProxyFarm without modems.",
        subcommands: [LabModem.self])
}
