import Foundation
import Synchronization

/// The last text a driver parsed and what it became: the parts of a look that an idle farm prints
/// the same every pass (addresses, routes, rules, the guard) are compared, not parsed again.
final class LastParsed<Value: Sendable>: Sendable {
    private let last = Mutex<(text: Data, value: Value)?>(nil)

    func value<Failure: Error>(of text: Data, _ parse: (Data) throws(Failure) -> Value) throws(Failure) -> Value {
        if let hit = last.withLock({ $0 }), hit.text == text { return hit.value }
        let value = try parse(text)
        last.withLock { $0 = (text, value) }
        return value
    }
}
