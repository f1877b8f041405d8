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
        DaemonRuntime.prepareProcess()
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
            if !options.simulated { events = Self.hotplug(logger: logger, changes: udevChanges) }
            if let proxies = backend.proxies { events += Self.proxyExits(logger: logger, proxies: proxies) + Self.kernelChanges(logger: logger) }
        } catch {
            printError("reconcile: error: \(ApplyPass.describe(error))")
            throw ExitCode(1)
        }
        // The secret files named at start: a changed password is applied at once (a file named
        // only later is picked up by the next pass that farm.yaml's change or the resync runs).
        let base = (options.file as NSString).deletingLastPathComponent
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
    /// udev hot-plug events as a wake source, and as what tells the inventory its last scan is
    /// stale. Without them (no udev netlink socket, e.g. in some containers) the daemon still
    /// works: a plugged modem is then found by the next periodic pass, and every pass scans.
    static func hotplug(logger: Logger, changes: UDevChanges) -> [any WakeSource] {
        do {
            return [StreamWakeSource(try UDevMonitor(changes: changes).wakeUps(), reason: .hotplug) {
                logger.warning("hot-plug events stopped (the udev monitor's socket failed): plugged modems are found by the periodic pass")
            }]
        } catch {
            logger.warning("no hot-plug events (\(error.message)): plugged modems are found by the periodic pass")
            return []
        }
    }
}

extension Daemon {
    /// A proxy's exit as a wake source: the pass that follows restarts it and reports it at once.
    /// Without (no epoll set) a dead proxy is found by the next timed pass, as before.
    static func proxyExits(logger: Logger, proxies: ThreeProxySupervisor) -> [any WakeSource] {
        do {
            return [StreamWakeSource(try proxies.exits(), reason: .proxyExited) {
                logger.warning("proxy exits are no longer watched: a stopped proxy is found by the next timed pass")
            }]
        } catch {
            logger.warning("proxy exits are not watched (\(error.message)): a stopped proxy is found by the next timed pass")
            return []
        }
    }
}

extension Daemon {
    /// Changes to routing or nftables as a wake source: a deleted rule or a flushed guard is put
    /// back by the pass that follows. Without (no netlink subscription) the next timed pass does.
    static func kernelChanges(logger: Logger) -> [any WakeSource] {
        do {
            return [StreamWakeSource(try KernelChanges.wakeUps(), reason: .kernelChanged) {
                logger.warning("routing and nftables changes are no longer watched: what someone removed is put back by the next timed pass")
            }]
        } catch {
            logger.warning("routing and nftables changes are not watched (\(error.message)): what someone removes is put back by the next timed pass")
            return []
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
