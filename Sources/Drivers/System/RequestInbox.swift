import Foundation
import Reconciler

/// `state/requests/`: where `reconcile rotate|reset NAME` drops one-shot requests and the daemon
/// picks them up (DESIGN §4). A request is an empty file whose name says everything, so filing
/// is a single atomic create and filing twice is filing once. The daemon removes a request only
/// after acting on it: a crash in between means it is done again, never lost.
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

    /// Files a request for the daemon; creates the directory when needed.
    public func file(_ request: ModemRequest) throws(SystemCallError) {
        try createDirectory()
        let path = directory + "/" + request.fileName
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemCallError("file request \(path)") }
        close(fd)
        try syncDirectory()
    }

    /// Pending requests in a stable order (by file name); a missing directory holds none.
    public func contents() throws(SystemCallError) -> Contents {
        guard let stream = opendir(directory) else {
            if errno == ENOENT { return Contents(requests: [], strangers: []) }
            throw SystemCallError("read \(directory)")
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
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
    public func consume(_ request: ModemRequest) throws(SystemCallError) {
        let path = directory + "/" + request.fileName
        guard unlink(path) == 0 || errno == ENOENT else { throw SystemCallError("remove request \(path)") }
    }

    /// Creates `requests/` (and the state dir) so that the daemon can watch it before anything is filed.
    public func createDirectory() throws(SystemCallError) {
        var path = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/", omittingEmptySubsequences: true) {
            path += "/" + component
            guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw SystemCallError("create \(path)") }
        }
    }

    private func syncDirectory() throws(SystemCallError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open \(directory)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw SystemCallError("sync \(directory)") }
    }
}
