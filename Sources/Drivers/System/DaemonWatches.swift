import Reconciler

/// The file watches of `reconcile daemon`: farm.yaml's directory and `state/requests/`.
/// (Hot-plug comes from the udev monitor, signals from `SignalEvents.forDaemon()`.)
public enum DaemonWatches {
    /// Creates `state/requests/` first so that it can be watched before anything is filed.
    public static func make(specFile: String, stateDirectory: String,
                            debounce: Duration = .milliseconds(300)) throws(SystemCallError) -> [any WakeSource] {
        let slash = specFile.lastIndex(of: "/")
        let specDirectory = slash.map { $0 == specFile.startIndex ? "/" : String(specFile[..<$0]) } ?? "."
        let specName = slash.map { String(specFile[specFile.index(after: $0)...]) } ?? specFile
        let inbox = RequestInbox(stateDirectory: stateDirectory)
        guard (try? inbox.createDirectory()) != nil else { throw SystemCallError("create \(inbox.directory)") }
        let spec = try DirectoryWatcher(directory: specDirectory, filter: .names([specName]), reason: .specChanged, debounce: debounce)
        let requests: DirectoryWatcher
        do {
            requests = try DirectoryWatcher(directory: inbox.directory, filter: .prefixes(ModemRequest.Kind.allCases.map { $0.rawValue + "-" }),
                                            reason: .requestFiled, debounce: debounce)
        } catch {
            spec.stop()
            throw error
        }
        return [spec, requests]
    }
}
