import ArgumentParser
import Foundation
import Spec

/// `reconcile validate`: every problem of farm.yaml at once, or a one-line summary.
struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check farm.yaml and report every problem with its line and column.",
        discussion: "Exit 0 when the file is valid (warnings are printed to stderr), 1 otherwise.")

    @Option(name: .long, help: ArgumentHelp("The farm file (else $PROXYFARM_FILE, else \(FarmLocation.installedFile)).", valueName: "PATH"))
    var file = FarmLocation.file

    func run() async throws {
        try FarmLocation.requireFarm(file)
        let result = FarmFile.load(path: file, reading: .all)
        for diagnostic in result.diagnostics {
            FileHandle.standardError.write(Data((diagnostic.description + "\n").utf8))
        }
        guard let spec = result.spec else {
            let count = result.errors.count
            FileHandle.standardError.write(Data("\(file): invalid — \(count) error\(count == 1 ? "" : "s")\n".utf8))
            throw ExitCode(1)
        }
        print(Self.summary(of: spec, file: file))
    }

    /// `farm.yaml: valid — 4 modems (3 enabled), 2 users`
    static func summary(of spec: FarmSpec, file: String) -> String {
        let modems = spec.modems.count, enabled = spec.modems.filter(\.enabled).count, users = spec.users.count
        return "\(file): valid — \(modems) modem\(modems == 1 ? "" : "s") (\(enabled) enabled), \(users) user\(users == 1 ? "" : "s")"
    }
}
