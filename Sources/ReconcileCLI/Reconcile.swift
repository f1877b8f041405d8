import ArgumentParser

/// The `reconcile` executable: makes the machine match farm.yaml (DESIGN §1, §8).
/// Without a subcommand it applies one pass (or, with `--dry-run`, prints the plan): `apply` is
/// the default, so the root itself has no options that could shadow a subcommand's.
@main
struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Make a farm of USB LTE modems match farm.yaml: one authenticated HTTP + SOCKS5 proxy pair per modem.",
        discussion: """
            Exit codes: 0 converged: every enabled modem Ready (with --dry-run: nothing pending, nothing blocked); \
            1 invalid input or a pass that could not run; 2 with --dry-run when changes are pending; \
            3 the pass ran but the farm is not converged (modems not Ready; with --dry-run: nothing pending, but modems \
            are missing or cannot be read).
            """,
        subcommands: [Apply.self, Validate.self, Schema.self, Discover.self, Daemon.self, Status.self, Rotate.self, Reset.self, Serve.self, GatewayCommand.self, Lab.self],
        defaultSubcommand: Apply.self)
}

/// `reconcile [apply] [--dry-run]`: one pass over the farm.
struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply one pass (the default), or print the plan with --dry-run.")

    @OptionGroup var options: RootOptions

    func run() async throws {
        try await ApplyPass(options: options).run()
    }
}
