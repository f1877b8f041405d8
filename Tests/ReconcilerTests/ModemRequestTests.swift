import Reconciler
import Testing

@Suite struct ModemRequestTests {
    @Test(arguments: [("rotate-m01", ModemRequest.Kind.rotate, "m01"), ("reset-lte_7", .reset, "lte_7"), ("rotate-rotate-1", .rotate, "rotate-1")])
    func parsesRequestFileNames(fileName: String, kind: ModemRequest.Kind, modem: String) throws {
        let request = try #require(ModemRequest(fileName: fileName))
        #expect(request.kind == kind)
        #expect(request.modem == modem)
        #expect(request.fileName == fileName)
    }

    @Test(arguments: ["rotate-", "rotate-../etc", "reset-.hidden", "rotate-m 1", "restart-m01", ".rotate-m01.tmp", "rotate-m01/x",
                      "reset-" + String(repeating: "a", count: 65)])
    func ignoresOtherFileNames(fileName: String) {
        #expect(ModemRequest(fileName: fileName) == nil)
    }

    @Test func refusesUnsafeModemNames() {
        #expect(throws: ModemRequestError.invalidModemName("../m01")) { try ModemRequest(kind: .rotate, modem: "../m01") }
        #expect(ModemRequestError.invalidModemName("a/b").message
            == "'a/b' is not a modem name: use letters, digits, '_' and '-', starting with a letter or digit, at most 64 characters")
    }
}
