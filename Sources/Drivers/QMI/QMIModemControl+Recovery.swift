import Foundation
import Reconciler

extension QMIModemControl {
    /// One rung of the recovery ladder (`RecoveryRung`). Reopening needs nothing from the modem;
    /// the QMI reset needs it to answer a little; the USB rungs go around it through the kernel.
    public func recover(_ modem: PluggedModem, _ rung: RecoveryRung) async throws {
        switch rung {
        case .reopen:
            await discard(modem)
        case .resetQMI:
            try await resetModem(modem)
            await discard(modem)
        case .reenumerate:
            await discard(modem)
            try USBPort(modem).reenumerate()
        case .powerCycle:
            await discard(modem)
            try await USBPort(modem).powerCycle()
        }
    }
}
