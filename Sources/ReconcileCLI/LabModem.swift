import ArgumentParser
import Dispatch
import Glibc
import ModemSimulator

/// `reconcile lab modem`: one simulated QMI modem on a pseudo-terminal, so anyone can point
/// `qmicli` (or the reconciler) at it without hardware.
struct LabModem: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modem",
        abstract: "Serve a simulated QMI modem on a pseudo-terminal linked at PATH until SIGTERM or SIGINT."
    )

    @Option(name: .customLong("device"), help: "Where to link the modem's device node (e.g. /tmp/cdc-wdm0).")
    var device: String

    @Option(help: "The IMEI the modem reports.")
    var imei: String = SimulatedModem.Configuration().imei

    @Option(help: "SIM PIN; without it the SIM is ready at power-on.")
    var pin: String?

    @Flag(name: .customLong("sticky-ip"), help: "Hand back the same address after low-power → online.")
    var stickyIP = false

    @Option(help: "The carrier's address pool the modem hands out addresses from.")
    var pool: String = SimulatedModem.Configuration().addressPool.description

    func validate() throws {
        guard AddressPool(cidr: pool) != nil else {
            throw ValidationError("--pool \(pool) is not an IPv4 CIDR with a prefix of 8–30, e.g. 100.64.1.0/24")
        }
        guard !imei.isEmpty, imei.allSatisfy(\.isNumber) else {
            throw ValidationError("--imei must be digits, e.g. 359072060000001")
        }
    }

    func run() async throws {
        var configuration = SimulatedModem.Configuration(imei: imei, pin: pin, stickyIP: stickyIP)
        if let addressPool = AddressPool(cidr: pool) { configuration.addressPool = addressPool }
        let modem = SimulatedModem(configuration)
        let terminal = try modem.start(linkingAt: device)
        print("modem \(imei) serving at \(device) (\(terminal)), pool \(configuration.addressPool)")
        fflush(nil)
        let signal = await Self.waitForTermination()
        modem.stop()
        print("modem \(imei) stopped (\(signal == SIGINT ? "SIGINT" : "SIGTERM"))")
    }

    /// Suspends until SIGTERM or SIGINT arrives; both are taken from their default action.
    private static func waitForTermination() async -> Int32 {
        await withCheckedContinuation { continuation in
            let queue = DispatchQueue(label: "lab-modem-signals")
            let resumed = ResumeOnce(continuation)
            var sources: [DispatchSourceSignal] = []
            for number in [SIGTERM, SIGINT] {
                Glibc.signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler {
                    resumed.resume(number)
                    for source in sources { source.cancel() }
                }
                sources.append(source)
            }
            for source in sources { source.resume() }
        }
    }
}

/// Resumes a continuation exactly once, whichever signal comes first; only used on one queue.
private final class ResumeOnce: @unchecked Sendable {
    private var continuation: CheckedContinuation<Int32, Never>?

    init(_ continuation: CheckedContinuation<Int32, Never>) { self.continuation = continuation }

    func resume(_ value: Int32) {
        continuation?.resume(returning: value)
        continuation = nil
    }
}
