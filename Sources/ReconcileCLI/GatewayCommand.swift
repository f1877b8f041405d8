import ArgumentParser
import Drivers
import Foundation
import Gateway
import Logging
import Reconciler
import Spec
import Synchronization

/// `reconcile gateway`: the customers' HAProxy entry point of a multi-host farm (DESIGN §9): the
/// same loop as the farm's with an HAProxy driver.
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Make the gateway's HAProxy match farm.yaml: an entry port pair per modem, forwarded to its host.",
        discussion: """
            Exit codes: 0 HAProxy matches farm.yaml (with --dry-run: nothing to do); 1 invalid input or HAProxy refused \
            the change (the running configuration keeps serving); 2 with --dry-run when a start or reload is pending.
            """,
        subcommands: [GatewayApply.self, GatewayDaemon.self, GatewayStatusCommand.self],
        defaultSubcommand: GatewayApply.self)
}

struct GatewayOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The farm file.", valueName: "PATH"))
    var file = "farm.yaml"

    @Option(name: .customLong("state"), help: ArgumentHelp("The gateway's state directory (entry ports, status, HAProxy's files).", valueName: "DIR"))
    var stateDirectory = "gateway-state"

    @Option(name: .long, help: ArgumentHelp("The haproxy executable (a name is looked up on PATH).", valueName: "PATH"))
    var haproxy = "haproxy"

    @Option(name: .long, help: "Output of --dry-run and of `status`: text or json.")
    var output: RootOptions.Output = .text

    var absoluteStateDirectory: String {
        stateDirectory.hasPrefix("/") ? stateDirectory : FileManager.default.currentDirectoryPath + "/" + stateDirectory
    }

    func reconciler() -> GatewayReconciler {
        let driver = HAProxyDriver(directory: absoluteStateDirectory + "/haproxy", binary: haproxy)
        return GatewayReconciler(driver: driver, paths: driver.paths)
    }

    /// farm.yaml's spec and revision, its diagnostics printed; nil when invalid.
    func load() -> (spec: FarmSpec, revision: String)? {
        let loaded = FarmFile.load(path: file)
        guard let spec = loaded.spec else {
            for diagnostic in loaded.diagnostics { printError(diagnostic.description) }
            return nil
        }
        return (spec, Revision.of(file: file, bytes: Data(loaded.source.utf8)))
    }
}

/// `reconcile gateway [--dry-run]`: one pass.
struct GatewayApply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "apply", abstract: "One pass (the default), or print the plan with --dry-run.")

    @OptionGroup var options: GatewayOptions

    @Flag(name: .long, help: "Print the plan (entry ports, the HAProxy action) and change nothing.")
    var dryRun = false

    func run() async throws {
        guard let (spec, revision) = options.load() else { throw ExitCode(1) }
        do {
            let store = try GatewayStore(root: options.absoluteStateDirectory)
            if dryRun {
                let plan = try await options.reconciler().plan(spec: spec, store: store)
                print(try GatewayPrinter.plan(plan, output: options.output), terminator: "")
                if plan.action != nil { throw ExitCode(2) }
                return
            }
            let status = try await options.reconciler().apply(spec: spec, store: store, revision: revision)
            if let error = status.error {
                printError("reconcile: gateway: \(error)")
                throw ExitCode(1)
            }
            print("Gateway serves revision \(Revision.short(status.revision)): \(status.modems.count) modem(s), \(status.modems.reduce(0) { $0 + $1.state.count }) entry port(s).")
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("reconcile: error: \(ApplyPass.describe(error))")
            throw ExitCode(1)
        }
    }
}

/// `reconcile gateway daemon`: a pass at start, on every change of farm.yaml, and periodically
/// (a crashed HAProxy is started again, server states in status refreshed).
struct GatewayDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "daemon", abstract: "Keep the gateway matching farm.yaml until SIGTERM (HAProxy keeps running).")

    @OptionGroup var options: GatewayOptions

    @Option(help: ArgumentHelp("A full pass at least this often.", valueName: "DURATION"))
    var resync = Interval(.seconds(10), "10s")

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "proxyfarm.gateway")
        let store = try GatewayStore(root: options.absoluteStateDirectory)
        let reconciler = options.reconciler()
        let inForce = Mutex<(spec: FarmSpec, revision: String)?>(nil)
        let runtime = DaemonRuntime(specFile: options.file, stateDirectory: options.absoluteStateDirectory,
                                    loop: DaemonLoop.Configuration(periodicPass: resync.duration))
        do {
            try await runtime.run { _, _ in
                if let loaded = options.load() {
                    inForce.withLock { $0 = (loaded.spec, loaded.revision) }
                } else {
                    logger.error("\(options.file) is invalid: the last valid revision stays in force")
                }
                guard let current = inForce.withLock({ $0 }) else { return PassReport(summary: "\(options.file) invalid: waiting for a fix") }
                do {
                    let status = try await reconciler.apply(spec: current.spec, store: store, revision: current.revision)
                    if let error = status.error { logger.error("\(error)") }
                    let up = status.modems.filter { $0.state.values.allSatisfy { $0 == "UP" } }.count
                    return PassReport(summary: "\(up)/\(status.modems.count) modems in service" + (status.error == nil ? "" : ", last change refused"))
                } catch {
                    logger.error("pass failed: \(ApplyPass.describe(error))")
                    return PassReport(summary: "last pass failed: \(ApplyPass.describe(error))")
                }
            }
        } catch {
            printError("reconcile: error: \(error.message)")
            throw ExitCode(1)
        }
    }
}

/// `reconcile gateway status`: every modem's entry ports and whether HAProxy has it in service.
struct GatewayStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show every modem's entry ports and HAProxy's view of it.")

    @OptionGroup var options: GatewayOptions

    func run() async throws {
        guard let status = try GatewayStore(root: options.absoluteStateDirectory, creating: false).loadStatus() else {
            printError("reconcile: no gateway status in \(options.stateDirectory): run `reconcile gateway` first")
            throw ExitCode(1)
        }
        print(try GatewayPrinter.status(status, output: options.output), terminator: "")
    }
}
