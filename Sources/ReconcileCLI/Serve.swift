import ArgumentParser
import ControlAPI
import Drivers
import Foundation
import Logging
import Reconciler
import Spec

/// `reconcile serve`: the dashboard, the JSON API and the customers' change-IP links (DESIGN §10).
/// It reads the status files and files requests; the daemon stays the only writer of the
/// machine's state, so serve runs unprivileged. With `--simulated` it serves a simulated farm
/// of its own, converged before the first request and kept by an in-process daemon.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the farm's dashboard, its JSON API and the change-IP links (farm.yaml api:), until SIGTERM.",
        discussion: "Exit 1 when farm.yaml is invalid, has no api: section, or a token cannot be read.")

    @OptionGroup var options: RootOptions

    @Option(help: ArgumentHelp("How long a change-IP link waits for the rotation to finish.", valueName: "DURATION"))
    var linkWait = Interval(.seconds(90), "90s")

    func validate() throws {
        guard !options.dryRun else { throw ValidationError("serve changes nothing itself; for the plan run `reconcile --dry-run`") }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "proxyfarm.serve")
        let loaded = FarmFile.load(path: options.file, reading: .api)
        for diagnostic in loaded.errors { printError(diagnostic.description) }
        guard let spec = loaded.spec else { throw ExitCode(1) }
        let stateDirectory = options.simulated ? SimulatedServe.temporaryStateDirectory() : options.absoluteStateDirectory
        var simulated: SimulatedServe?
        defer { if options.simulated { try? FileManager.default.removeItem(atPath: stateDirectory) } }
        do {
            var configuration = try APIConfiguration.from(spec, stateDirectory: stateDirectory, secrets: secretResolver(relativeTo: options.file))
            configuration.linkWait = linkWait.duration
            if options.simulated {
                simulated = try await SimulatedServe.converge(options: options, stateDirectory: stateDirectory, logger: logger)
            }
            let server = APIServer(api: try ControlAPI(configuration), logger: logger)
            try await Self.serve(server, configuration: configuration, simulated: simulated, logger: logger)
        } catch let error as APIConfigurationError {
            printError("reconcile: error: \(error)")
            throw ExitCode(1)
        } catch {
            printError("reconcile: error: \(ApplyPass.describe(error))")
            throw ExitCode(1)
        }
    }

    /// Serves until SIGTERM/SIGINT (or, with a simulated farm, until its daemon loop stops on them).
    private static func serve(_ server: APIServer, configuration: APIConfiguration, simulated: SimulatedServe?, logger: Logger) async throws {
        let signals = SignalEvents([.terminate, .interrupt])
        defer { signals.stop() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await server.run { port in
                    logger.info("serving http://\(ListenAddress(host: configuration.listen.host, port: port))/ (\(configuration))")
                }
            }
            group.addTask {
                if let simulated {
                    try await simulated.keep(logger: logger)
                } else {
                    for await _ in signals.signals { return }
                }
            }
            try await group.next()
            group.cancelAll()
        }
        logger.info("stopped")
    }
}

/// `reconcile serve --simulated`: a simulated farm in a state directory of its own (removed at
/// exit), brought to convergence before serving and then kept by an in-process daemon, so that
/// rotate buttons and change-IP links work as against a real daemon.
struct SimulatedServe: Sendable {
    let options: RootOptions
    let session: DaemonSession

    static func temporaryStateDirectory() -> String {
        NSTemporaryDirectory() + "proxyfarm-serve-\(getpid())-\(UUID().uuidString.prefix(8))"
    }

    static func converge(options: RootOptions, stateDirectory: String, logger: Logger) async throws -> SimulatedServe {
        var own = options
        own.stateDirectory = stateDirectory
        let store = try StateStore(root: own.absoluteStateDirectory)
        let session = DaemonSession(options: own, store: store, backend: try await Backend(own), logger: logger)
        // A farm that cannot converge (a secret missing, say) is served as it is: the dashboard says why.
        for _ in 0..<20 {
            _ = await session.pass(reasons: [.startup], heartbeat: {})
            if try store.readFarmStatus()?.converged == true { break }
        }
        return SimulatedServe(options: own, session: session)
    }

    /// The daemon loop: a pass on every request filed and farm.yaml change, until SIGTERM/SIGINT.
    func keep(logger: Logger) async throws {
        let runtime = DaemonRuntime(specFile: options.file, stateDirectory: options.absoluteStateDirectory, debounce: .milliseconds(100),
                                    loop: DaemonLoop.Configuration(periodicPass: .seconds(60)))
        try await runtime.run { reasons, heartbeat in await session.pass(reasons: reasons, heartbeat: heartbeat) }
    }
}
