import CGlibcExtras
import Reconciler

/// Everything `reconcile daemon` runs on apart from the pass itself: signals (SIGHUP re-reads,
/// SIGTERM/SIGINT stop), watches on farm.yaml's directory and `state/requests/`, any further wake
/// sources (the udev hot-plug monitor), systemd notification, and the loop that ties them together.
public struct DaemonRuntime: Sendable {
    public var specFile: String
    /// Secret files farm.yaml names (watched like farm.yaml itself).
    public var secretFiles: [String]
    public var stateDirectory: String
    /// Quiet time before a burst of file events becomes one wake-up.
    public var debounce: Duration
    public var loop: DaemonLoop.Configuration
    public var notifier: any DaemonNotifier

    public init(specFile: String, secretFiles: [String] = [], stateDirectory: String, debounce: Duration = .milliseconds(300),
                loop: DaemonLoop.Configuration = DaemonLoop.Configuration(), notifier: any DaemonNotifier = SystemdDaemonNotifier()) {
        self.specFile = specFile
        self.secretFiles = secretFiles
        self.stateDirectory = stateDirectory
        self.debounce = debounce
        self.loop = loop
        self.notifier = notifier
    }

    /// Runs passes until SIGTERM or SIGINT; returns once the pass in flight has ended.
    public func run(extraSources: [any WakeSource] = [], pass: @escaping DaemonLoop.Pass) async throws(SystemCallError) {
        let signals = SignalEvents()
        let (reloads, stops) = signals.forDaemon()
        let watches: [any WakeSource]
        do {
            watches = try DaemonWatches.make(specFile: specFile, secretFiles: secretFiles, stateDirectory: stateDirectory, debounce: debounce)
        } catch {
            reloads.stop()
            throw error
        }
        let sources = [reloads] + watches + extraSources
        defer { sources.forEach { $0.stop() } }
        await DaemonLoop(configuration: loop, notifier: notifier).run(wakeSources: sources, stops: stops) { reasons, heartbeat in
            let report = await pass(reasons, heartbeat)
            // A pass frees what it read (JSON dumps, file texts) in several threads' malloc arenas;
            // giving the free pages back keeps an idle daemon's resident memory at its working set.
            proxyfarm_release_free_memory()
            return report
        }
    }
}
