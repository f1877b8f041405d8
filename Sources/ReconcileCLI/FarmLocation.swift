import ArgumentParser
import Foundation
import Spec

/// Where every subcommand finds the farm, in this order: `--file`/`--state`, then the
/// environment (`PROXYFARM_FILE`, `PROXYFARM_STATE`), then the installed defaults
/// `/etc/proxyfarm/farm.yaml` and `/var/lib/proxyfarm`. The lab sets the environment, so
/// `reconcile lab run -- ANY COMMAND` finds the lab's farm the same way.
enum FarmLocation {
    static let installedFile = "/etc/proxyfarm/farm.yaml"
    static let installedState = "/var/lib/proxyfarm"

    static var file: String { value("PROXYFARM_FILE") ?? installedFile }
    static var state: String { value("PROXYFARM_STATE") ?? installedState }
    /// The 3proxy executable when `--proxy-binary` is not given.
    static var proxyBinary: String { value("PROXYFARM_PROXY_BINARY") ?? "3proxy" }

    private static func value(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Fails, having changed nothing, when there is no farm file at `path`.
    static func requireFarm(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) != 0 else { return }
        printError("""
            reconcile: error: no farm at \(path) (\(errno == ENOENT ? "no such file" : String(cString: strerror(errno)))); nothing was changed.
              Name it with --file PATH or PROXYFARM_FILE (and the state directory with --state DIR or PROXYFARM_STATE);
              installed defaults: \(installedFile) and \(installedState).
            """)
        throw ExitCode(1)
    }

    /// The valid farm at `path`, its diagnostics printed; exits 1 (having changed nothing) otherwise.
    static func load(_ path: String) throws -> (FarmLoadResult, FarmSpec) {
        try requireFarm(path)
        let loaded = FarmFile.load(path: path)
        for diagnostic in loaded.diagnostics { printError(diagnostic.description) }
        guard let spec = loaded.spec else { throw ExitCode(1) }
        return (loaded, spec)
    }
}
