import Drivers
import Foundation
import Reconciler
import Testing

/// Signals are process-wide: every test that handles or sends them is nested in this suite, so
/// they run one at a time. SIGTERM to this process is safe while caught: processes other tests
/// spawn get the default action back at exec.
@Suite(.serialized) struct ProcessSignalTests {}

extension ProcessSignalTests {
    @Suite struct SignalEventsTests {
        @Test func signalsSentToThisProcessArriveOnTheStream() async throws {
            let events = SignalEvents()
            let log = StreamLog(events.signals)

            kill(getpid(), SIGHUP)
            #expect(await log.wait { $0.elements == [.hangup] })
            kill(getpid(), SIGINT)
            #expect(await log.wait { $0.elements == [.hangup, .interrupt] })
            kill(getpid(), SIGTERM)
            #expect(await log.wait { $0.elements.count == 3 })
            events.stop()

            #expect(log.elements == [.hangup, .interrupt, .terminate])
            #expect(await log.wait { $0.finished })
        }

        @Test func theDaemonSeesHangupAsAReloadAndTerminateOrInterruptAsAStop() async throws {
            let events = SignalEvents()
            let (reloads, stops) = events.forDaemon()
            let reloadLog = StreamLog(reloads.wakeups)
            let stopLog = StreamLog(stops)

            kill(getpid(), SIGHUP)
            #expect(await reloadLog.wait { $0.elements == [.reloadRequested] })
            #expect(stopLog.elements.isEmpty)
            kill(getpid(), SIGTERM)
            #expect(await stopLog.wait { $0.elements.count == 1 })
            kill(getpid(), SIGINT)
            #expect(await stopLog.wait { $0.elements.count == 2 })
            reloads.stop()

            #expect(await reloadLog.wait { $0.finished })
            #expect(await stopLog.wait { $0.finished })
            #expect(reloadLog.elements == [.reloadRequested])
        }

        @Test func childrenStartedMeanwhileStillDieOnSigterm() throws {
            let events = SignalEvents()
            defer { events.stop() }
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/bin/sh")
            child.arguments = ["-c", "grep SigIgn /proc/self/status"]
            let output = Pipe()
            child.standardOutput = output
            try child.run()
            let line = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            child.waitUntilExit()

            let ignored = try #require(UInt64(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "", radix: 16))
            for signal in DaemonSignal.allCases {
                #expect(ignored & (1 << UInt64(signal.rawValue - 1)) == 0, "\(signal) is ignored in a child")
            }
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
}
