import Foundation
import Testing
@testable import Drivers

struct NetworkToolRunnerTests {
    @Test func toolThatStopsReadingCostsNoSignal() async throws {
        let input = String(repeating: "route replace unreachable default table 101\n", count: 50_000)
        let output = try await NetworkToolRunner.run(["true"], input: input, timeout: .seconds(10))
        #expect(output.status == 0)
    }

    @Test func outputAndStatusAreKept() async throws {
        let output = try await NetworkToolRunner.run(["sh", "-c", "cat; echo oops >&2; exit 3"], input: "batch\n", timeout: .seconds(10))
        #expect(String(decoding: output.stdout, as: UTF8.self) == "batch\n")
        #expect(output.stderr == "oops\n")
        #expect(output.status == 3)
    }

    @Test func hangingToolIsKilledAtTheTimeout() async {
        let started = ContinuousClock.now
        await #expect(throws: NetworkError.timeout(command: "sleep 30", after: .milliseconds(200))) {
            try await NetworkToolRunner.run(["sleep", "30"], timeout: .milliseconds(200))
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func outputHeldOpenByALeftoverChildEndsAtTheTimeout() async {
        let started = ContinuousClock.now
        await #expect(throws: NetworkError.self) {
            try await NetworkToolRunner.run(["sh", "-c", "sleep 8 & echo started"], timeout: .milliseconds(300))
        }
        #expect(ContinuousClock.now - started < .seconds(5), "not the 8 s the leftover child holds the output")
    }

    @Test func missingToolSaysSo() async {
        let failure = await #expect(throws: NetworkError.self) {
            try await NetworkToolRunner.run(["pf-no-such-ip-tool"], timeout: .seconds(5))
        }
        #expect(failure?.reason == "NetworkToolMissing")
    }
}
