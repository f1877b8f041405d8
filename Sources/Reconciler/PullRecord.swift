import Foundation

/// The outcome of the last `git pull` of farm.yaml's repository (`reconcile pull`, run by
/// proxyfarm-pull.timer), kept in the state directory as `pull.json` so that `reconcile status`
/// and `/metrics` can say a host is serving an old farm: a refused pull leaves farm.yaml as it
/// was, and nothing else would show it.
public struct PullRecord: Codable, Sendable, Equatable {
    /// When the last pull ran.
    public var lastAttempt: Date
    /// Whether it brought the repository up to date (or found it so).
    public var succeeded: Bool
    /// When a pull last succeeded; nil when none has yet.
    public var lastSuccess: Date?
    /// When pulls started failing, kept across further failures; nil while they succeed.
    public var failingSince: Date?
    /// Why the last pull failed, in the operator's words, never with a URL's credentials.
    public var reason: String?
    /// The commit farm.yaml's checkout is at after the pull.
    public var commit: String?

    public init(lastAttempt: Date, succeeded: Bool, lastSuccess: Date? = nil, failingSince: Date? = nil, reason: String? = nil, commit: String? = nil) {
        self.lastAttempt = lastAttempt
        self.succeeded = succeeded
        self.lastSuccess = lastSuccess
        self.failingSince = failingSince
        self.reason = reason
        self.commit = commit
    }

    /// The record after a pull at `now` that failed for `reason` (nil: it succeeded).
    public static func after(_ previous: PullRecord?, at now: Date, failure reason: String?, commit: String?) -> PullRecord {
        guard let reason else { return PullRecord(lastAttempt: now, succeeded: true, lastSuccess: now, commit: commit) }
        return PullRecord(lastAttempt: now, succeeded: false, lastSuccess: previous?.lastSuccess,
                          failingSince: previous?.failingSince ?? now, reason: reason, commit: commit)
    }

    /// `farm.yaml not updated: pull refused (not a fast-forward) since …`; nil while pulls succeed.
    public func problem(describing date: (Date) -> String) -> String? {
        guard !succeeded else { return nil }
        return "farm.yaml not updated: \(reason ?? "pull failed") since \(date(failingSince ?? lastAttempt))"
            + "; last successful pull: \(lastSuccess.map(date) ?? "never")"
    }

    /// `proxyfarm_pull_success` and `proxyfarm_pull_last_success_timestamp_seconds` for `/metrics`
    /// (appended by `reconcile serve` to the daemon's metrics): an alert on a host serving an old farm.
    public var metrics: String {
        var text = "# HELP proxyfarm_pull_success Whether the last git pull of farm.yaml's repository succeeded (1) or was refused or failed (0).\n"
            + "# TYPE proxyfarm_pull_success gauge\nproxyfarm_pull_success \(succeeded ? 1 : 0)\n"
        if let lastSuccess {
            text += "# HELP proxyfarm_pull_last_success_timestamp_seconds When a git pull of farm.yaml's repository last succeeded.\n"
                + "# TYPE proxyfarm_pull_last_success_timestamp_seconds gauge\n"
                + "proxyfarm_pull_last_success_timestamp_seconds \(Int64(lastSuccess.timeIntervalSince1970))\n"
        }
        return text
    }

    public static func path(inState root: String) -> String { root + "/pull.json" }

    public static func load(fromState root: String) throws(StateError) -> PullRecord? {
        try StateStore.read(PullRecord.self, at: path(inState: root))
    }

    /// Written whole (temp, fsync, rename); the state directory is created when missing.
    public func save(inState root: String) throws(StateError) {
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let data = try StateStore.encoder.encode(self) + Data("\n".utf8)
            try AtomicFile.write(data, to: Self.path(inState: root))
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError(reason: "StateIOError", message: "cannot write \(Self.path(inState: root)): \(error.localizedDescription)")
        }
    }
}
