import Logging
import Reconciler

/// The daemon loop's notifier over systemd's notify socket. A failed notification is logged and
/// otherwise ignored: the farm must keep being reconciled even if systemd cannot be told.
public struct SystemdDaemonNotifier: DaemonNotifier {
    public let systemd: SystemdNotifier
    private let logger: Logger

    public init(systemd: SystemdNotifier = SystemdNotifier(), logger: Logger = Logger(label: "proxyfarm.systemd")) {
        self.systemd = systemd
        self.logger = logger
    }

    public var watchdogInterval: Duration? { systemd.watchdogInterval }
    public func ready(status: String) { send(.ready, .status(status)) }
    public func status(_ line: String) { send(.status(line)) }
    public func watchdog() { send(.watchdog) }
    public func stopping() { send(.stopping) }

    private func send(_ messages: SystemdNotifier.Message...) {
        do {
            try systemd.notify(messages)
        } catch {
            logger.warning("\(error.message)")
        }
    }
}
