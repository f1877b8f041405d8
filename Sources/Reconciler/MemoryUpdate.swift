import Foundation

extension ModemMemory {
    /// Takes in what a look at the modem showed: where it is, its live session, a SIM found ready
    /// (then a PIN may be tried again some day), its interface's byte `counters`, and a probe
    /// taken in that look.
    public func observing(_ modem: ObservedModem?, counters: InterfaceCounters?, probe: ProbeResult?, now: Date) -> ModemMemory {
        var next = self
        if let modem {
            next.usbPath = modem.plugged.usbPath
            if let counters { next.traffic = traffic?.counting(counters) ?? Traffic(startingAt: counters) }
            if modem.state == nil, let failure = modem.failure, next.recovery == nil {
                next.recovery = Recovery(since: now, failure: failure)
            }
            if let state = modem.state {
                next.recovery = nil
                if let session = state.session {
                    next.session = session
                    if next.connectedAt == nil { next.connectedAt = now }
                    if let address = state.settings?.address, next.lastAddress == nil { next.lastAddress = address }
                }
                if state.sim == .ready { next.pinAttemptFailedAt = nil }
            }
        }
        if let probe { next = next.recordingProbe(probe, at: now) }
        return next
    }

    /// Takes in one applied action's success.
    public func applying(_ kind: ActionKind, result: ActionResult, now: Date) -> ModemMemory {
        var next = self
        switch kind {
        case .connect:
            if case .connected(let session, let settings) = result {
                next.session = session
                next.connectedAt = now
                if next.lastRotation != nil, next.lastAddress != nil, next.rotations > 0, next.lastRotationSameAddress == nil {
                    next.lastRotationSameAddress = next.lastAddress == settings.address
                }
                next.lastAddress = settings.address
            }
        case .disconnect:
            next.session = nil
        case .rotate:
            next.lastRotation = now
            next.rotations += 1
            next.lastRotationSameAddress = nil
        case .reset:
            next.resets += 1
            next.lastReset = now
            next.resetsSinceHealthy += 1
            next.consecutiveHealthFailures = 0
            next.lastRotationSameAddress = nil
        case .recover(let rung):
            next.recovery?.attempts += 1
            next.recovery?.last = now
            next.recovery?.lastRung = rung
        default:
            break
        }
        return next
    }
}

/// What an applied action returned that memory or later steps need.
public enum ActionResult: Sendable, Equatable {
    case done
    case connected(DataSession, IPSettings)
    case started(ProxyProcess)
}
