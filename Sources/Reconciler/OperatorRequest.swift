import Foundation

/// A one-shot request from the operator (`state/requests/rotate-<name>`, `reset-<name>`), acted on
/// in the next pass even when no schedule or health failure calls for it, then consumed.
public struct OperatorRequest: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case rotate, reset
    }
    public var kind: Kind
    public var modem: String
    public init(_ kind: Kind, modem: String) {
        self.kind = kind
        self.modem = modem
    }

    /// The request's file name in state/requests/.
    public var fileName: String { "\(kind.rawValue)-\(modem)" }
    public var description: String { fileName }

    public init?(fileName: String) {
        for kind in [Kind.rotate, .reset] where fileName.hasPrefix(kind.rawValue + "-") {
            let modem = String(fileName.dropFirst(kind.rawValue.count + 1))
            guard !modem.isEmpty else { return nil }
            self.init(kind, modem: modem)
            return
        }
        return nil
    }
}

extension StateStore {
    /// Requests waiting in state/requests/.
    public func pendingRequests() -> Set<OperatorRequest> {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/requests")) ?? []
        return Set(names.compactMap(OperatorRequest.init(fileName:)))
    }

    /// Drops a request file once a pass has seen it.
    public func consume(_ request: OperatorRequest) throws(StateError) {
        try AtomicFile.remove(root + "/requests/" + request.fileName)
    }

    /// Drops a request into state/requests/ for the running (or next) reconciler.
    public func request(_ request: OperatorRequest) throws(StateError) {
        try AtomicFile.write(Data(), to: root + "/requests/" + request.fileName)
    }
}
