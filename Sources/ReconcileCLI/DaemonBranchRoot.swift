import ArgumentParser

/// Temporary root on the `daemon` branch so that `lab` can be run and tested; the lead's
/// `Reconcile` root command replaces this file at integration (adding `Lab` to its subcommands).
@main
struct DaemonBranchRoot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reconcile", subcommands: [Lab.self, Rotate.self, Reset.self])
}
