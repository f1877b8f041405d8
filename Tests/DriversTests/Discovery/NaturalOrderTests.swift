@testable import Drivers
import Testing

struct NaturalOrderTests {
    @Test("numbers inside names compare as numbers", arguments: [
        ("ttyUSB2", "ttyUSB10"), ("1-1.2", "1-1.10"), ("1-1.9", "1-2"), ("1-1", "1-1.1"), ("ttyACM0", "ttyUSB0"),
    ])
    func precedes(_ pair: (String, String)) {
        #expect(naturallyPrecedes(pair.0, pair.1))
        #expect(!naturallyPrecedes(pair.1, pair.0))
    }

    @Test func equalNamesDoNotPrecedeEachOther() {
        #expect(!naturallyPrecedes("ttyUSB3", "ttyUSB3"))
    }
}
