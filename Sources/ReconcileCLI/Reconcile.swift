import ArgumentParser
import Drivers

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
        version: ProgramVersion.current,
        subcommands: [Apply.self, Validate.self, Schema.self, Discover.self, Daemon.self, Status.self, Rotate.self, Reset.self, Serve.self, Pull.self,
                      GatewayCommand.self, Lab.self],
        defaultSubcommand: Apply.self)

    /// `reconcile --simulated serve` means `reconcile serve --simulated` (README: `reconcile
    /// --simulated …` runs any command against an in-memory farm).
    static func main() async {
        ProcessMemory.useOneMallocArena()
        do { try HostTimeZone.verify() } catch { exit(withError: error) }
        let subcommands = Set(configuration.subcommands.map { $0._commandName })
        await main(RootArguments.subcommandFirst(Array(CommandLine.arguments.dropFirst()), subcommands: subcommands))
    }
}

/// The root options (`RootOptions`) written before a subcommand's name. ArgumentParser gives
/// them to the default subcommand, `apply`, which then refuses the name; every subcommand that
/// takes them has them too, so they are moved after the name.
enum RootArguments {
    static let flags: Set<String> = ["--simulated", "--dry-run"]
    static let valued: Set<String> = ["--file", "--state", "--batch", "--output", "--proxy-binary", "--host"]

    static func subcommandFirst(_ arguments: [String], subcommands: Set<String>) -> [String] {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if flags.contains(argument) {
                index += 1
            } else if valued.contains(String(argument.prefix { $0 != "=" })) {
                index += argument.contains("=") ? 1 : 2
            } else {
                break
            }
        }
        guard index > 0, index < arguments.count, subcommands.contains(arguments[index]) else { return arguments }
        return [arguments[index]] + arguments[..<index] + arguments[(index + 1)...]
    }
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
