import Drivers
import Foundation
import ModemSimulator
import Reconciler

/// A simulated modem on a pty, linked where the driver expects its control device, with a fake
/// sysfs for its network interface. Everything lives in a per-test temporary directory.
struct SimulatedBench {
    let modem: SimulatedModem
    let plugged: PluggedModem
    let sysfsRoot: String
    let directory: String

    static let interface = "wwan0"
    private static let counter = Counter()

    init(_ configuration: SimulatedModem.Configuration = .init()) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("pf\(getpid())-qmi-\(Self.counter.next())").path
        sysfsRoot = directory + "/sys"
        let qmiDir = "\(sysfsRoot)/class/net/\(Self.interface)/qmi"
        try FileManager.default.createDirectory(atPath: qmiDir, withIntermediateDirectories: true)
        try "N\n".write(toFile: qmiDir + "/raw_ip", atomically: false, encoding: .utf8)
        try "0x1002\n".write(toFile: "\(sysfsRoot)/class/net/\(Self.interface)/flags", atomically: false, encoding: .utf8)
        modem = SimulatedModem(configuration)
        let path = directory + "/cdc-wdm0"
        try modem.start(linkingAt: path)
        plugged = PluggedModem(usbPath: "/sys/devices/sim", portPath: "1-1", vendorID: "2c7c", productID: "0125",
                               controlDevice: path, interface: Self.interface, supportsRawIP: true)
    }

    /// A driver that uses this bench's sysfs (through qmi-proxy with `viaProxy`), keeping its
    /// client-id ledger in the bench's `ledger` directory.
    func control(timeout: Duration = .seconds(3), unansweredTimeout: Duration = .seconds(3), viaProxy: Bool = false) -> QMIModemControl {
        QMIModemControl(options: QMIOpenOptions(viaProxy: viaProxy, timeout: timeout, unansweredTimeout: unansweredTimeout, ledgerDirectory: ledger),
                        kernel: KernelDataFormat(sysfsRoot: sysfsRoot))
    }

    var ledger: String { directory + "/qmi-clients" }

    func kernelRawIP() throws -> String {
        try String(contentsOfFile: "\(sysfsRoot)/class/net/\(Self.interface)/qmi/raw_ip", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func tearDown() {
        modem.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Requests the modem received of `service` with `messageID` (never their contents).
    func requests(_ service: ModemSimulator.QMIService, _ messageID: UInt16) -> Int {
        modem.snapshot().requests.filter { $0.service == service.rawValue && $0.messageID == messageID }.count
    }
}

/// Runs `body` against a fresh simulated modem and always tears it down.
func withBench(_ configuration: SimulatedModem.Configuration = .init(),
               _ body: (SimulatedBench) async throws -> Void) async throws {
    let bench = try SimulatedBench(configuration)
    defer { bench.tearDown() }
    try await body(bench)
}

/// Runs `body` and returns its error as a `QMIError` with the time it took to fail.
func expectQMIError(_ body: () async throws -> Void) async -> (error: QMIError?, elapsed: Duration) {
    let clock = ContinuousClock()
    let start = clock.now
    do {
        try await body()
        return (nil, clock.now - start)
    } catch let error as QMIError {
        return (error, clock.now - start)
    } catch {
        return (QMIError(.unexpectedReply, device: "?", operation: "test", detail: "not a QMIError: \(error)"), clock.now - start)
    }
}
