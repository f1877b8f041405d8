import ArgumentParser

/// The `reconcile` executable: makes the machine match farm.yaml (DESIGN §1, §8).
@main
struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Make a farm of USB LTE modems match farm.yaml: one authenticated HTTP + SOCKS5 proxy pair per modem.",
        subcommands: [Validate.self, Schema.self, Lab.self])
}
