import Spec
import ArgumentParser
import Drivers
import Foundation
import Reconciler

/// `reconcile pull` (run by proxyfarm-pull.timer): `git pull --ff-only` of the repository that
/// holds farm.yaml, its outcome kept in the state directory (`pull.json`) for `reconcile status`
/// and `/metrics`. A refused pull changes nothing: the daemon keeps serving the farm it has.
struct Pull: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pull farm.yaml's git repository (fast-forward only) and record the outcome for `status`.",
        discussion: "Exit codes: 0 the checkout is up to date; 1 the pull failed or was refused (farm.yaml unchanged; `reconcile status` says why).")

    @OptionGroup var options: RootOptions

    @Option(help: ArgumentHelp("The git executable.", valueName: "PATH"))
    var git = "git"

    func run() async throws {
        let directory = PlainText.directory(of: options.file)
        let outcome = await GitPull.pull(directory.isEmpty ? "." : directory, git: git)
        do {
            let previous = try? PullRecord.load(fromState: options.absoluteStateDirectory)
            try PullRecord.after(previous, at: Date(), failure: outcome.failure, commit: outcome.commit).save(inState: options.absoluteStateDirectory)
        } catch {
            printError("reconcile: error: \(error.message)")
            throw ExitCode(1)
        }
        guard let failure = outcome.failure else {
            print("farm repository up to date" + (outcome.commit.map { " at \(Revision.short($0))" } ?? ""))
            return
        }
        printError("reconcile: \(failure); farm.yaml was not changed")
        throw ExitCode(1)
    }
}
