import Drivers
import Foundation
import Reconciler
import Synchronization
import Testing

/// The daemon's plumbing with a stand-in pass: real files, inotify, signals and a real notify socket.
extension ProcessSignalTests {
    @Suite struct DaemonRuntimeTests {
        @Test func wakesOnSpecEditsRequestsAndSighupAndStopsOnSigterm() async throws {
            let dir = try ScratchDirectory("runtime")
            defer { dir.remove() }
            try dir.write("farm.yaml", "version: 1\n")
            let socketName = "@pf\(getpid())-runtime-\(UUID().uuidString.prefix(8))"
            let systemd = try DatagramListener(address: socketName)
            defer { systemd.close() }
            let runtime = DaemonRuntime(
                specFile: dir.file("farm.yaml"), stateDirectory: dir.file("state"), debounce: .milliseconds(200),
                loop: DaemonLoop.Configuration(periodicPass: .seconds(60), tick: .milliseconds(20)),
                notifier: SystemdDaemonNotifier(systemd: SystemdNotifier(environment: ["NOTIFY_SOCKET": socketName])))
            let passes = PassLog()
            let daemon = Task {
                try await runtime.run { reasons, _ in
                    let number = passes.append(reasons)
                    return PassReport(summary: "\(number)/\(number) ready")
                }
            }

            #expect(try await systemd.receive() == "READY=1\nSTATUS=1/1 ready")
            try dir.write("farm.yaml", "version: 1\nmodems: []\n")
            #expect(try await systemd.receive() == "STATUS=2/2 ready")
            try RequestInbox(stateDirectory: dir.file("state")).file(ModemRequest(kind: .rotate, modem: "m01"))
            #expect(try await systemd.receive() == "STATUS=3/3 ready")
            kill(getpid(), SIGHUP)
            #expect(try await systemd.receive() == "STATUS=4/4 ready")
            kill(getpid(), SIGTERM)
            #expect(try await systemd.receive() == "STOPPING=1")
            try await daemon.value

            #expect(passes.all == [[.startup], [.specChanged], [.requestFiled], [.reloadRequested]])
        }

        @Test func aMissingSpecDirectoryIsAClearErrorAndLeavesNoSignalHandler() async throws {
            let runtime = DaemonRuntime(specFile: "/nonexistent-pf\(getpid())/farm.yaml", stateDirectory: NSTemporaryDirectory() + "pf\(getpid())-state",
                                        notifier: SystemdDaemonNotifier(systemd: SystemdNotifier(environment: [:])))
            defer { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "pf\(getpid())-state") }

            await #expect(throws: SystemCallError("watch directory /nonexistent-pf\(getpid())", code: ENOENT)) {
                try await runtime.run { _, _ in PassReport(summary: "") }
            }

            var action = sigaction()
            #expect(sigaction(SIGTERM, nil, &action) == 0)
            #expect(action.__sigaction_handler.sa_handler == nil)
        }
    }
}

private final class PassLog: Sendable {
    private let passes = Mutex<[Set<WakeReason>]>([])
    /// Records a pass; returns its number.
    func append(_ reasons: Set<WakeReason>) -> Int { passes.withLock { $0.append(reasons); return $0.count } }
    var all: [Set<WakeReason>] { passes.withLock { $0 } }
}
