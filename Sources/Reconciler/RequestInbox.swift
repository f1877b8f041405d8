import Foundation

/// `state/requests/`: where `reconcile rotate|reset NAME` drops one-shot requests and a pass
/// picks them up (DESIGN §4). A request is an empty file whose name says everything, so filing
/// is a single atomic create and filing twice is filing once. A request is removed only after a
/// pass acted on it (or its modem left farm.yaml): a crash in between means it is done again,
/// never lost. Filing needs no lock, so it works beside a running daemon.
public struct RequestInbox: Sendable {
    public let directory: String

    public init(stateDirectory: String) {
        directory = stateDirectory + "/requests"
    }

    /// What the directory holds: requests, and names that are not requests (reported, left alone).
    public struct Contents: Sendable, Equatable {
        public var requests: [ModemRequest]
        public var strangers: [String]

        public init(requests: [ModemRequest], strangers: [String]) {
            self.requests = requests
            self.strangers = strangers
        }
    }

    /// Files a request; creates the directory when needed.
    public func file(_ request: ModemRequest) throws(StateError) {
        try createDirectory()
        let path = directory + "/" + request.fileName
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .system("cannot file request", path) }
        close(fd)
        try AtomicFile.syncDirectory(directory)
    }

    /// Pending requests in a stable order (by file name); a missing directory holds none.
    public func contents() throws(StateError) -> Contents {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            if !FileManager.default.fileExists(atPath: directory) { return Contents(requests: [], strangers: []) }
            throw StateError(reason: "StateIOError", message: "cannot read \(directory): \(error.localizedDescription)")
        }
        var contents = Contents(requests: [], strangers: [])
        for name in names.sorted() {
            if let request = ModemRequest(fileName: name) {
                contents.requests.append(request)
            } else {
                contents.strangers.append(name)
            }
        }
        return contents
    }

    /// Removes a request that has been acted on; one that is already gone is fine.
    public func consume(_ request: ModemRequest) throws(StateError) {
        try AtomicFile.remove(directory + "/" + request.fileName)
    }

    /// Creates `requests/` (and the state dir) so that the daemon can watch it before anything is filed.
    /// On failure errno still holds the reason of the `mkdir` that failed.
    public func createDirectory() throws(StateError) {
        var path = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/", omittingEmptySubsequences: true) {
            path += "/" + component
            guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw .system("cannot create", path) }
        }
    }
}

extension StateStore {
    /// The state directory's request inbox.
    public var requests: RequestInbox { RequestInbox(stateDirectory: root) }
}
