import Drivers
import Foundation
import Logging
import Reconciler
import Spec

/// What the daemon keeps between passes: the state store (and so the lock), the drivers (one
/// simulated farm for the daemon's lifetime with `--simulated`), and the last valid farm.yaml,
/// which stays in force while the file on disk is invalid.
actor DaemonSession {
    let options: RootOptions
    let store: StateStore
    let backend: Backend
    let logger: Logger
    private var inForce: (spec: FarmSpec, revision: String)?
    /// The invalid farm.yaml last reported, so that its errors are logged once, not every pass.
    private var reportedInvalid: String?
    /// What the last valid load of farm.yaml read: its text, and its secret files stamped before
    /// it read them. While farm.yaml holds the same text and no stamp changed, a pass does not
    /// parse it again (a file rewritten unchanged, by an editor or a pull, costs one read).
    private var lastValidLoad: (source: String, secrets: [String], stamps: [FileStamp?])?
    /// Strangers in requests/ already reported (once per daemon, not every pass).
    private let reportedStrangers = ReportedOnce()
    private let configs = CheckedConfigs()

    init(options: RootOptions, store: StateStore, backend: Backend, logger: Logger) {
        self.options = options
        self.store = store
        self.backend = backend
        self.logger = logger
    }

    /// One pass: re-reads farm.yaml, applies the spec in force with the pending requests, and
    /// tells the loop what to show and when to come back.
    func pass(reasons: Set<WakeReason>, heartbeat: @escaping @Sendable () -> Void) async -> PassReport {
        logger.info("pass: \(reasons.map(\.description).sorted().joined(separator: ", "))")
        let cost = PassCost.start()
        let specErrors = reload(forced: !reasons.isDisjoint(with: [.startup, .reloadRequested]))
        guard let inForce else {
            do {
                try store.recordSpecErrors(specErrors ?? [], now: Date())
            } catch {
                logger.error("cannot record the farm.yaml errors in status: \(error.message)")
            }
            return PassReport(summary: "\(options.file) invalid, no valid version seen yet: waiting for a fix")
        }
        let reconciler = FarmReconciler(drivers: backend.drivers, settings: ExecutorSettings(batch: options.batch), logger: logger,
                                        progress: heartbeat, reported: reportedStrangers, configs: configs)
        do {
            let (result, farm) = try await backend.apply(reconciler, spec: inForce.spec, store: store, secrets: secretResolver(relativeTo: options.file),
                                                         revision: inForce.revision, specErrors: specErrors)
            for failed in result.applied where failed.failure != nil {
                logger.error("failed: \(failed.action.description): \(failed.failure?.reason ?? ""): \(failed.failure?.message ?? "")")
            }
            let now = Date()
            let upcoming = UpcomingWork.of(spec: inForce.spec, memory: result.memory, lookedAt: result.lookedAt, timeZone: reconciler.timeZone)
            let summary = Self.summary(farm, upcoming: upcoming, now: now, specProblem: specErrors.map { _ in
                "\(options.file) invalid: keeping revision \(Revision.short(inForce.revision))"
            })
            logger.info("\(summary)", metadata: cost.metadata())
            return PassReport(summary: summary, wakeWithin: upcoming.wakeWithin(now: now))
        } catch is CancellationError {
            return PassReport(summary: "stopping")
        } catch {
            logger.error("pass failed: \(ApplyPass.describe(error))")
            return PassReport(summary: "last pass failed: \(ApplyPass.describe(error))")
        }
    }

    /// Loads farm.yaml; a valid file becomes the spec in force. Returns its errors when invalid.
    /// Unless `forced`, a valid farm.yaml whose files are all as the last load read them is not
    /// parsed again (an invalid one always is: its errors may be about files it could not name).
    private func reload(forced: Bool) -> [String]? {
        let stamped = Dictionary((lastValidLoad?.secrets ?? []).map { ($0, FileStamp.of($0)) }, uniquingKeysWith: { first, _ in first })
        if !forced, let last = lastValidLoad, last.stamps == last.secrets.map({ stamped[$0] ?? nil }),
           let text = try? String(contentsOfFile: options.file, encoding: .utf8), text == last.source {
            return nil
        }
        lastValidLoad = nil
        let loaded = FarmFile.load(path: options.file)
        var errors = loaded.errors.map(\.description)
        var own: FarmSpec?
        do {
            own = try loaded.spec.map(HostSelection(name: options.host).ownPart)
        } catch {
            errors.append("\(options.file): error: \(error.message)")
        }
        guard let spec = own else {
            if reportedInvalid != loaded.source {
                reportedInvalid = loaded.source
                for error in errors { logger.error("\(error)") }
                if let inForce { logger.error("\(options.file) is invalid: revision \(inForce.revision) stays in force") }
            }
            return errors
        }
        reportedInvalid = nil
        let base = PlainText.directory(of: options.file)
        let secrets = (loaded.spec ?? spec).secretFiles(baseDirectory: base.isEmpty ? "." : base)
        // Stamped before this load read them; a file it named for the first time has no stamp yet,
        // so the next pass parses once more rather than miss a change made while it was read.
        lastValidLoad = (loaded.source, secrets, secrets.map { stamped[$0] ?? nil })
        let revision = Revision.of(file: options.file, bytes: Data(loaded.source.utf8))
        if revision != inForce?.revision {
            for warning in loaded.warnings { logger.warning("\(warning.description)") }
            logger.info("\(options.file) revision \(revision) in force")
        }
        inForce = (spec, revision)
        return nil
    }

    /// `12/12 ready, next rotation m03 in 4m`.
    static func summary(_ farm: FarmStatus, upcoming: UpcomingWork, now: Date, specProblem: String?) -> String {
        let ready = farm.phases[Phase.ready.rawValue] ?? 0
        var others = farm.phases
        others[Phase.ready.rawValue] = nil
        let rotation = upcoming.nextRotation.map { (modem: $0.modem, due: Duration.seconds($0.due.timeIntervalSince(now))) }
        return StatusLine.summary(ready: ready, total: farm.modems, notReady: others, nextRotation: rotation, specProblem: specProblem)
    }
}

/// What a pass cost the daemon: wall time and CPU time of all its threads (the benchmark reads them from the log).
struct PassCost {
    let clock = ContinuousClock.now
    let cpu: Double

    static func start() -> PassCost { PassCost(cpu: ProcessCPU.seconds()) }

    func metadata() -> Logger.Metadata {
        let wall = (ContinuousClock.now - clock).components
        let wallMilliseconds = Double(wall.seconds) * 1000 + Double(wall.attoseconds) / 1e15
        return ["passMs": "\(PlainText.fixed(wallMilliseconds, digits: 1))", "cpuMs": "\(PlainText.fixed((ProcessCPU.seconds() - cpu) * 1000, digits: 1))"]
    }
}
