import ArgumentParser
import Foundation
import Logging
import Reconciler
import Spec

/// `reconcile [--dry-run]`: load farm.yaml, then print the plan or apply one pass.
struct ApplyPass {
    var options: RootOptions

    func run() async throws {
        let loaded = FarmFile.load(path: options.file)
        for diagnostic in loaded.diagnostics { printError(diagnostic.description) }
        guard let spec = loaded.spec else { throw ExitCode(1) }
        let revision = Revision.of(file: options.file, bytes: Data(loaded.source.utf8))
        let drivers: DriverSet
        var simulated: SimulatedBackend?
        do {
            if options.simulated {
                printError("reconcile: simulated farm (no hardware), kept in \(options.stateDirectory)/simulated-farm.json")
                let backend = try await SimulatedBackend(stateDirectory: options.stateDirectory, spec: spec)
                simulated = backend
                drivers = backend.farm.drivers()
            } else {
                drivers = try makeDrivers(options)
            }
        } catch {
            printError("reconcile: error: \(error)")
            throw ExitCode(1)
        }
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let reconciler = FarmReconciler(drivers: drivers, settings: ExecutorSettings(batch: options.batch))
        let secrets = secretResolver(relativeTo: options.file)
        do {
            if options.dryRun {
                try await dryRun(reconciler, spec: spec, secrets: secrets, revision: revision)
            } else {
                let converged = try await apply(reconciler, spec: spec, secrets: secrets, revision: revision)
                try await simulated?.save()
                if !converged { throw ExitCode(1) }
            }
        } catch let exit as ExitCode {
            throw exit
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
    }

    /// Returns whether the farm converged.
    private func apply(_ reconciler: FarmReconciler, spec: FarmSpec, secrets: @escaping SecretResolver, revision: String) async throws -> Bool {
        let store = try StateStore(root: options.absoluteStateDirectory)
        let (result, farm) = try await reconciler.apply(spec: spec, store: store, secrets: secrets, revision: revision)
        for failed in result.applied where failed.failure != nil {
            printError("reconcile: failed: \(failed.action.description): \(failed.failure?.reason ?? ""): \(failed.failure?.message ?? "")")
        }
        let phases = farm.phases.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let verdict = result.converged ? "converged" : "not converged (\(result.remaining.actions.count) pending, \(result.remaining.deferred.count) waiting)"
        print("Applied \(result.applied.count) action(s) in \(result.rounds) round(s), \(result.failedActions) failed; farm \(verdict). Modems: \(phases.isEmpty ? "none" : phases).")
        return result.converged
    }

    /// Secrets as farm.yaml names them: files relative to the farm file, the process environment.
    private func secretResolver(relativeTo file: String) -> SecretResolver {
        let directory = (file as NSString).deletingLastPathComponent
        let base = directory.isEmpty ? "." : directory
        let environment = ProcessInfo.processInfo.environment
        return { source in
            Result { () throws(SecretError) in try source.resolve(baseDirectory: base, environment: environment) }
                .mapError { SecretFailure($0.message) }
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? any OperatorFacingError { return error.message }
        return String(describing: error)
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
