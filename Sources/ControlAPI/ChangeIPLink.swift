import Foundation
import Reconciler

/// The customer's change-IP link (`GET|POST /v1/link/TOKEN`): files a rotate request for the
/// daemon, waits until the daemon acted and the modem is Ready again, and answers with the old and
/// the new IP. It never rotates itself: the daemon stays the only writer of the machine's state.
struct ChangeIPLink: Sendable {
    let view: FarmView
    let inbox: RequestInbox
    let wait: Duration
    let pollInterval: Duration

    /// What the link answers once the rotation finished.
    struct Answer: Sendable, Encodable, Equatable {
        var modem: String
        var oldIP: String?
        var newIP: String
        /// The carrier handed the same address back.
        var sameIP: Bool
    }

    /// Refuses unless the modem is Ready and a daemon runs to act; the caller has already applied `minInterval`.
    func check(_ link: APIConfiguration.Link) throws(APIError) -> ModemStatus {
        let status: ModemStatus
        do {
            status = try view.modem(link.modem)
        } catch where error.error == "UnknownModem" {
            throw APIError(503, "NoStatus", "the daemon has not reported on \(link.modem) yet; try again in a minute", modem: link.modem)
        }
        guard view.daemon().running else {
            throw APIError(503, "NoDaemon", "no `reconcile daemon` runs on this farm to rotate the modem; tell the farm's operator",
                           modem: link.modem)
        }
        guard status.phase == .ready, status.ip != nil else {
            let reason = status.reason.map { ": \($0)" } ?? ""
            throw APIError(409, "ModemNotReady", "\(link.modem) is \(status.phase.rawValue)\(reason); try again once it is Ready",
                           modem: link.modem, phase: status.phase.rawValue)
        }
        return status
    }

    /// Files the request and waits (at most `wait`) for the rotation to finish.
    func rotate(_ link: APIConfiguration.Link, from before: ModemStatus, requested: Date) async throws(APIError) -> Answer {
        let request: ModemRequest
        do {
            request = try ModemRequest(kind: .rotate, modem: link.modem)
            try inbox.file(request)
        } catch {
            throw APIError(500, "RequestNotFiled", "cannot file the rotation request in \(inbox.directory)", modem: link.modem)
        }
        let deadline = ContinuousClock.now + wait
        while ContinuousClock.now < deadline {
            do {
                try await Task.sleep(for: pollInterval)
            } catch {
                throw APIError(503, "ShuttingDown", "the server is stopping; the rotation request stays filed", modem: link.modem)
            }
            let pending = (try? inbox.contents().requests.contains(request)) ?? true
            guard !pending, let now = try? view.modem(link.modem) else { continue }
            if let answer = Self.finished(link.modem, before: before, now: now, requested: requested) { return answer }
            if now.phase == .error && !Self.renewed(now, since: requested) {
                throw APIError(502, "RotationFailed", "the daemon could not rotate \(link.modem); it is \(now.phase.rawValue)",
                               modem: link.modem, phase: now.phase.rawValue)
            }
        }
        throw APIError(504, "RotationTimeout", "\(link.modem) did not come back Ready within \(wait.components.seconds)s; the daemon goes on trying",
                       modem: link.modem)
    }

    /// Done: the daemon rotated (or reset) the modem after the request and it is Ready with an address.
    static func finished(_ name: String, before: ModemStatus, now: ModemStatus, requested: Date) -> Answer? {
        guard renewed(now, since: requested), now.phase == .ready, let ip = now.ip else { return nil }
        return Answer(modem: name, oldIP: before.ip, newIP: ip, sameIP: ip == before.ip)
    }

    private static func renewed(_ status: ModemStatus, since requested: Date) -> Bool {
        // Status times are whole seconds (ISO 8601): a rotation in the request's second counts.
        let floor = requested.addingTimeInterval(-1)
        return [status.rotation.last, status.health.lastReset].contains { ($0 ?? .distantPast) > floor }
    }
}
