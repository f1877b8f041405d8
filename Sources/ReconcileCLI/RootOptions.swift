import ArgumentParser
import Foundation

/// Options of the root command: one pass over one farm file and one state directory.
struct RootOptions: ParsableArguments {
    enum Output: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(name: .long, help: ArgumentHelp("The farm file (else $PROXYFARM_FILE, else \(FarmLocation.installedFile)).", valueName: "PATH"))
    var file = FarmLocation.file

    @Option(name: .customLong("state"), help: ArgumentHelp(
        "The state directory: lock, memory, status, requests (else $PROXYFARM_STATE, else \(FarmLocation.installedState)).", valueName: "DIR"))
    var stateDirectory = FarmLocation.state

    @Option(name: .long, help: "At most this many modems are worked on at a time.")
    var batch = 5

    @Flag(name: .long, help: "Print the plan and change nothing.")
    var dryRun = false

    @Option(name: .long, help: "Output of --dry-run (the plan) and of `status`: text or json.")
    var output: Output = .text

    @Flag(name: .long, help: "Run against a simulated farm in memory (no hardware is touched).")
    var simulated = false

    @Option(name: .long, help: ArgumentHelp("The 3proxy executable (a name is looked up on PATH; else $PROXYFARM_PROXY_BINARY, else 3proxy).", valueName: "PATH"))
    var proxyBinary = FarmLocation.proxyBinary

    @Option(name: .long, help: ArgumentHelp(
        "This host's name under hosts: in farm.yaml: only its modems are reconciled (default: the machine's hostname). A farm without hosts: ignores it.",
        valueName: "NAME"))
    var host = HostSelection.machineName

    /// The state directory as an absolute path: proxies are told where to log, and they do not
    /// share the reconciler's working directory.
    var absoluteStateDirectory: String {
        stateDirectory.hasPrefix("/") ? stateDirectory : FileManager.default.currentDirectoryPath + "/" + stateDirectory
    }

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }
}
