import Reconciler
import Testing

@Suite struct StatusLineTests {
    @Test func summarizesTheFarmInOneLine() {
        #expect(StatusLine.summary(ready: 12, total: 12, nextRotation: ("m03", .seconds(4 * 60 + 10))) == "12/12 ready, next rotation m03 in 4m10s")
        #expect(StatusLine.summary(ready: 10, total: 12, notReady: ["Missing": 1, "Degraded": 1, "Error": 0])
            == "10/12 ready (1 Degraded, 1 Missing)")
        #expect(StatusLine.summary(ready: 3, total: 3, specProblem: "farm.yaml:12:7 invalid, keeping revision 3f2a1c9")
            == "3/3 ready, farm.yaml:12:7 invalid, keeping revision 3f2a1c9")
        #expect(StatusLine.summary(ready: 0, total: 0) == "0/0 ready")
    }

    @Test(arguments: [(0, "now"), (-5, "now"), (45, "45s"), (240, "4m"), (270, "4m30s"), (7_200, "2h"), (7_500, "2h5m"),
                      (7_259, "2h"), (273_600, "3d4h")])
    func approximatesDurations(seconds: Int64, text: String) {
        #expect(StatusLine.approximate(.seconds(seconds)) == text)
    }
}
