import ArgumentParser
import Foundation
import Logging
import Reconciler
import Spec

/// `reconcile [--dry-run]`: load farm.yaml, then print the plan or apply one pass.
struct ApplyPass {
    var options: RootOptions

    func run() async throws {
        let (loaded, _) = try FarmLocation.load(options.file)
        let spec = try HostSelection(name: options.host).ownSpec(loaded)
        let revision = Revision.of(file: options.file, bytes: Data(loaded.source.utf8))
        let backend: Backend
        do {
            backend = try await Backend(options)
        } catch {
            printError("reconcile: error: \(error)")
            throw ExitCode(1)
        }
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let reconciler = FarmReconciler(drivers: backend.drivers, settings: ExecutorSettings(batch: options.batch))
        let secrets = secretResolver(relativeTo: options.file)
        do {
            if options.dryRun {
                await backend.simulated?.plugNew(spec)
                try await backend.closingModems { try await dryRun(reconciler, spec: spec, secrets: secrets, revision: revision) }
            } else {
                let store = try StateStore(root: options.absoluteStateDirectory)
                let (result, farm) = try await backend.closingModems {
                    try await backend.apply(reconciler, spec: spec, store: store, secrets: secrets, revision: revision)
                }
                print(Self.report(result, farm: farm))
                if !farm.converged { throw ExitCode.notConverged }
            }
        } catch let exit as ExitCode {
            throw exit
        } catch is CancellationError {
            printError("reconcile: stopped by a signal; what was done is recorded in \(options.stateDirectory)")
            throw ExitCode(1)
        } catch {
            printError("reconcile: error: \(Self.describe(error))")
            throw ExitCode(1)
        }
    }

    private func dryRun(_ reconciler: FarmReconciler, spec: FarmSpec, secrets: @escaping SecretResolver, revision: String) async throws {
        let store = try StateStore(root: options.absoluteStateDirectory, locking: false)
        let plan = try await reconciler.plan(spec: spec, store: store, secrets: secrets, revision: revision)
        switch options.output {
        case .text: print(PlanPrinter.text(plan, colour: isatty(STDOUT_FILENO) == 1), terminator: "")
        case .json: print(try PlanPrinter.json(plan, revision: revision))
        }
        if !plan.isEmpty || !plan.deferred.isEmpty { throw ExitCode(2) }
        if !plan.blocked.isEmpty { throw ExitCode.notConverged }
    }

    /// Failed actions go to stderr; the returned line sums the pass up.
    static func report(_ result: PassResult, farm: FarmStatus) -> String {
        for failed in result.applied where failed.failure != nil {
            printError("reconcile: failed: \(failed.action.description): \(failed.failure?.reason ?? ""): \(failed.failure?.message ?? "")")
        }
        let phases = farm.phases.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let notReady = farm.modems - (farm.phases[Phase.ready.rawValue] ?? 0) - (farm.phases[Phase.disabled.rawValue] ?? 0)
        let verdict = farm.converged ? "converged"
            : "not converged (\(result.remaining.actions.count) pending, \(result.remaining.deferred.count) waiting, \(notReady) not Ready)"
        return "Applied \(result.applied.count) action(s) in \(result.rounds) round(s), \(result.failedActions) failed; farm \(verdict). Modems: \(phases.isEmpty ? "none" : phases)."
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? any OperatorFacingError { return error.message }
        return String(describing: error)
    }
}

extension ExitCode {
    /// The pass ran, but the farm is not converged: modems are not Ready (missing, cannot be read,
    /// failed, still connecting) or work is left. 1 stays "invalid input or a failed pass".
    static let notConverged = ExitCode(3)
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
