import ArgumentParser

/// Minimal root until the lead assembles the full command tree.
@available(macOS 10.15, *)
struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reconcile", subcommands: [Lab.self])
}

struct Lab: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulated hardware for trying ProxyFarm without modems.",
        subcommands: [LabModem.self]
    )
}

/// Inside an async function the async `main()` wins overload resolution; in top-level code the
/// synchronous one would, and it refuses to run async commands.
func runReconcile() async {
    await Reconcile.main()
}

await runReconcile()
