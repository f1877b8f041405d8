import ArgumentParser
import Drivers
import Foundation
import Logging
import Reconciler
import Spec

/// `reconcile daemon`: one pass at start, then one whenever farm.yaml changes, a modem is plugged
/// or unplugged, a request is filed, a probe or rotation falls due, SIGHUP asks for it, or the
/// periodic resync comes round (issue 8). SIGTERM lets the action in flight finish and exits 0
/// with proxies and modems left running.
struct Daemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Keep the farm matching farm.yaml: reconcile on every change and periodically, until SIGTERM.",
        discussion: """
            An invalid farm.yaml is reported (stderr and status/farm.json `specErrors`) and the last valid one stays in force. \
            SIGHUP re-reads farm.yaml now. With systemd (Type=notify) it sends READY=1 after the first pass, WATCHDOG=1 and STATUS=.
            """)

    @OptionGroup var options: RootOptions

    @Option(help: ArgumentHelp("Quiet time before a burst of farm.yaml or request file events becomes one pass.", valueName: "DURATION"))
    var debounce = Interval(.milliseconds(300), "300ms")

    @Option(help: ArgumentHelp("A full pass at least this often, repairing drift nobody announced.", valueName: "DURATION"))
    var resync = Interval(.seconds(60), "60s")

    func validate() throws {
        guard !options.dryRun else { throw ValidationError("the daemon applies; for the plan run `reconcile --dry-run`") }
    }

    func run() async throws {
        try FarmLocation.requireFarm(options.file)
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "proxyfarm.daemon")
        let session: DaemonSession
        let backend: Backend
        var events: [any WakeSource] = []
        do {
            let store = try StateStore(root: options.absoluteStateDirectory)
            let udevChanges = UDevChanges()
            backend = try await Backend(options, udevChanges: udevChanges)
            session = DaemonSession(options: options, store: store, backend: backend, logger: logger)
            if let proxies = backend.proxies { events = Self.eventSources(logger: logger, udevChanges: udevChanges, proxies: proxies) }
        } catch {
            printError("reconcile: error: \(ApplyPass.describe(error))")
            throw ExitCode(1)
        }
        // The secret files named at start: a changed password is applied at once (a file named
        // only later is picked up by the next pass that farm.yaml's change or the resync runs).
        let base = PlainText.directory(of: options.file)
        let secrets = FarmFile.load(path: options.file).spec?.secretFiles(baseDirectory: base.isEmpty ? "." : base) ?? []
        let runtime = DaemonRuntime(specFile: options.file, secretFiles: secrets, stateDirectory: options.absoluteStateDirectory, debounce: debounce.duration,
                                    loop: DaemonLoop.Configuration(periodicPass: resync.duration))
        do {
            try await runtime.run(extraSources: events) { reasons, heartbeat in
                await session.pass(reasons: reasons, heartbeat: heartbeat)
            }
        } catch {
            await backend.drivers.modems.shutdown()
            printError("reconcile: error: \(error.message)")
            throw ExitCode(1)
        }
        // Data sessions stay up for the next run; the control clients are freed.
        await backend.drivers.modems.shutdown()
        logger.info("stopped; proxies and modems left running")
    }
}

extension Daemon {
    /// What the daemon hears of besides farm.yaml and requests, each a wake source: udev hot-plug
    /// (also what tells the inventory its last scan is stale), proxy exits, and changes to routing
    /// or nftables. A source that cannot start (no udev netlink socket in some containers) or that
    /// stops is logged; the timed passes then do its work, only later.
    static func eventSources(logger: Logger, udevChanges: UDevChanges, proxies: ThreeProxySupervisor) -> [any WakeSource] {
        typealias Source = (what: String, meanwhile: String, reason: WakeReason, start: () throws -> AsyncStream<Void>)
        let sources: [Source] = [
            ("hot-plug events", "plugged modems are found by the periodic pass", .hotplug, { try UDevMonitor(changes: udevChanges).wakeUps() }),
            ("proxy exits", "a stopped proxy is found by the next timed pass", .proxyExited, { try proxies.exits() }),
            ("routing and nftables changes", "what someone removes is put back by the next timed pass", .kernelChanged,
             { try KernelChanges.wakeUps() }),
        ]
        return sources.compactMap { source in
            do {
                let lost = "\(source.what) are no longer heard (the watch failed): \(source.meanwhile)"
                return StreamWakeSource(try source.start(), reason: source.reason) { logger.warning("\(lost)") }
            } catch {
                logger.warning("\(source.what) are not heard (\(ApplyPass.describe(error))): \(source.meanwhile)")
                return nil
            }
        }
    }
}

/// A duration on the command line: `300ms`, `2s`, `5m`, `1h`.
struct Interval: ExpressibleByArgument {
    var duration: Duration
    var text: String

    init(_ duration: Duration, _ text: String) {
        self.duration = duration
        self.text = text
    }

    init?(argument: String) {
        text = argument
        let digits = argument.prefix { $0.isNumber }
        guard let value = Int64(digits), value > 0 else { return nil }
        switch argument.dropFirst(digits.count) {
        case "ms": duration = .milliseconds(value)
        case "s": duration = .seconds(value)
        case "m": duration = .seconds(value * 60)
        case "h": duration = .seconds(value * 3600)
        default: return nil
        }
    }

    var defaultValueDescription: String { text }
}
