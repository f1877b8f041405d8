@testable import Drivers
import Foundation
import Testing

/// The Swift-side guard of a libqmi call (`PendingCall.failAfter`): a call whose callback never
/// comes — libqmi's coarse timer did not fire, its loop was stuck — still ends, as a Timeout.
@Suite(.timeLimit(.minutes(1))) struct QMICallGuardTests {
    @Test("a call libqmi never calls back ends as a Timeout once its timeout and the guard's slack have passed")
    func unansweredCallTimesOut() async throws {
        let (error, elapsed) = await expectQMIError {
            // `start` never hands the call to libqmi, so only the guard can end it.
            _ = try await qmiCall("DMS Get IDs", device: "/dev/cdc-wdm-guard", tracker: nil, timeout: .seconds(1),
                                  start: { _ in }, finish: { _ in 0 })
        }
        #expect(error?.reason == "Timeout")
        #expect(error?.message.contains("DMS Get IDs") == true && error?.message.contains("no answer within 1s") == true, "\(String(describing: error))")
        #expect(elapsed >= .seconds(1) + swiftGuardSlack)
        #expect(elapsed < .seconds(1) + swiftGuardSlack + .seconds(3), "a loaded 2-core CI machine may be late, not this late")
    }
}
