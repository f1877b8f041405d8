import Glibc
import Testing
@testable import Drivers

/// The watch loop every daemon watch shares: bursts fold into one wake-up, and a source that never
/// goes quiet wakes the loop at most once per `minimumGap`.
@Suite struct BurstWatchTests {
    @Test func aSourceThatNeverGoesQuietWakesAtMostOncePerGap() async throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer { close(ends[1]) }
        let (reader, writer) = (ends[0], ends[1])
        let wakes = Counter(), stop = try StopPipe(), ended = Counter()
        BurstWatch(descriptors: [reader], quietPeriod: .milliseconds(20), maxDelay: .milliseconds(50), minimumGap: .milliseconds(500)) {
            var buffer = [UInt8](repeating: 0, count: 64)
            return read(reader, &buffer, buffer.count) > 0
        }
        .start(name: "test", stop: stop, wake: { wakes.next() }) {
            close(reader)
            ended.next()
        }
        // 1.2 s of a byte every 10 ms: without the gap, a wake-up every 50 ms (about 24).
        let clock = ContinuousClock()
        let start = clock.now
        var byte: UInt8 = 1
        while clock.now < start + .milliseconds(1200) {
            _ = write(writer, &byte, 1)
            try await Task.sleep(for: .milliseconds(10))
        }
        try await Task.sleep(for: .milliseconds(700))
        let count = wakes.count
        #expect((2...4).contains(count), "\(count) wake-ups")
        stop.fire()
        #expect(try await ProxyTestSupport.eventually { ended.count == 1 }, "stopping ends the thread")
    }
}
