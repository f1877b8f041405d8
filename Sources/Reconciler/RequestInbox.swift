import Foundation

/// `state/requests/`: where `reconcile rotate|reset NAME` drops one-shot requests and a pass
/// picks them up. A request is an empty regular file whose name says everything, so filing is a
/// single atomic create and filing twice is filing once. Requests are at most once: the pass
/// records a request as taken in its modem's memory (with the file's identity) before acting on
/// it, and removes the file afterwards; a pass that finds a file it already took only removes it.
/// Anything else in the directory (directories, FIFOs, symlinks, other names) is reported and
/// left alone. Filing needs no lock, so it works beside a running daemon.
public struct RequestInbox: Sendable {
    public let directory: String

    public init(stateDirectory: String) {
        directory = stateDirectory + "/requests"
    }

    /// What the directory holds: requests with their file identities, and entries that are not
    /// requests (reported, left alone).
    public struct Contents: Sendable, Equatable {
        public var requests: [ModemRequest]
        public var strangers: [String]
        /// Each request's file identity (inode and modification time): a request filed again after it
        /// was taken is a new file, so a new request.
        public var identities: [ModemRequest: String] = [:]

        public init(requests: [ModemRequest], strangers: [String], identities: [ModemRequest: String] = [:]) {
            self.requests = requests
            self.strangers = strangers
            self.identities = identities
        }
    }

    /// Files a request; creates the directory when needed.
    public func file(_ request: ModemRequest) throws(StateError) {
        try createDirectory()
        let path = directory + "/" + request.fileName
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw .system("cannot file request", path) }
        close(fd)
        try AtomicFile.syncDirectory(directory)
    }

    /// Pending requests in a stable order (by file name). Never fails: a missing directory holds
    /// none, and one that cannot be read is reported as a stranger of its own.
    public func contents() -> Contents {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            var info = stat()
            if lstat(directory, &info) != 0 && errno == ENOENT { return Contents(requests: [], strangers: []) }
            return Contents(requests: [], strangers: ["(the directory itself: \(error.localizedDescription))"])
        }
        var contents = Contents(requests: [], strangers: [])
        for name in names.sorted() {
            if let request = ModemRequest(fileName: name), let identity = identity(of: request) {
                contents.requests.append(request)
                contents.identities[request] = identity
            } else {
                contents.strangers.append(name)
            }
        }
        return contents
    }

    /// The identity of the regular file holding `request` (inode and modification time), or nil when
    /// there is none (gone, or not a regular file: a directory, FIFO or symlink is no request).
    public func identity(of request: ModemRequest) -> String? {
        var info = stat()
        guard lstat(directory + "/" + request.fileName, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return "\(info.st_ino)-\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }

    /// Removes a request that has been taken; one that is already gone is fine.
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
