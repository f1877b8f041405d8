import Reconciler

/// The file watches of `reconcile daemon`: farm.yaml's directory, the directories of the secret
/// files it names, and `state/requests/`.
/// (Hot-plug comes from the udev monitor, signals from `SignalEvents.forDaemon()`.)
public enum DaemonWatches {
    /// Creates `state/requests/` first so that it can be watched before anything is filed. A
    /// secret's directory that cannot be watched (missing) is skipped: the pass reports the secret.
    public static func make(specFile: String, secretFiles: [String] = [], stateDirectory: String,
                            debounce: Duration = .milliseconds(300)) throws(SystemCallError) -> [any WakeSource] {
        let (specDirectory, specName) = split(specFile)
        let secretNames = Dictionary(grouping: secretFiles.map(split), by: \.directory).mapValues { Set($0.map(\.name)) }
        let secrets: [any WakeSource] = secretNames.sorted { $0.key < $1.key }.compactMap { directory, names in
            try? DirectoryWatcher(directory: directory, filter: .names(names), reason: .specChanged, debounce: debounce)
        }
        let inbox = RequestInbox(stateDirectory: stateDirectory)
        guard (try? inbox.createDirectory()) != nil else { throw SystemCallError("create \(inbox.directory)") }
        let spec = try DirectoryWatcher(directory: specDirectory, filter: .names([specName]), reason: .specChanged, debounce: debounce)
        let requests: DirectoryWatcher
        do {
            requests = try DirectoryWatcher(directory: inbox.directory, filter: .prefixes(ModemRequest.Kind.allCases.map { $0.rawValue + "-" }),
                                            reason: .requestFiled, debounce: debounce)
        } catch {
            spec.stop()
            secrets.forEach { $0.stop() }
            throw error
        }
        return [spec, requests] + secrets
    }

    private static func split(_ path: String) -> (directory: String, name: String) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        return (directory, slash.map { String(path[path.index(after: $0)...]) } ?? path)
    }
}
