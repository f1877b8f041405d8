import Drivers
import Foundation
import Testing

/// SIGTERM is deliberately not raised here: every test of the package shares this process, and
/// while SIGTERM is ignored, processes other tests spawn would inherit "ignore" and outlive their
/// SIGTERM. SIGHUP and SIGINT take exactly the same path through `SignalEvents`.
@Suite(.serialized) struct SignalEventsTests {
    @Test func signalsSentToThisProcessArriveOnTheStream() async throws {
        let events = SignalEvents([.hangup, .interrupt])
        let log = StreamLog(events.signals)

        kill(getpid(), SIGHUP)
        #expect(await log.wait { $0.elements == [.hangup] })
        kill(getpid(), SIGINT)
        kill(getpid(), SIGHUP)
        #expect(await log.wait { $0.elements.count == 3 })
        events.stop()

        #expect(log.elements == [.hangup, .interrupt, .hangup])
        #expect(await log.wait { $0.finished })
    }

    @Test func stopRestoresTheDefaultAction() throws {
        let events = SignalEvents([.hangup])
        events.stop()
        events.stop()

        var action = sigaction()
        #expect(sigaction(SIGHUP, nil, &action) == 0)
        #expect(action.__sigaction_handler.sa_handler == nil)
    }

    @Test func namesAreTheOperatorsSignalNames() {
        #expect(DaemonSignal.allCases.map(\.description) == ["SIGTERM", "SIGHUP", "SIGINT"])
        #expect(DaemonSignal.allCases.map(\.rawValue) == [SIGTERM, SIGHUP, SIGINT])
    }
}
