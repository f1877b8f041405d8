import Glibc

/// Starts a program detached in its own session, so it outlives the reconciler (DESIGN §7).
public enum ProxySpawner {
    /// glibc's `POSIX_SPAWN_SETSID` (a GNU extension Swift does not import).
    static let setSessionFlag: Int32 = 0x80

    /// Spawns `arguments` (the first is an absolute path) with stdin from /dev/null, stdout
    /// appended to `outputPath` and stderr to `errorPath` (the same file when nil), no other
    /// descriptor, every signal at its default and none blocked, whatever the caller had.
    public static func spawn(_ arguments: [String], outputPath: String, errorPath: String? = nil) throws(ProxySupervisorError) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o640)
        if let errorPath {
            posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_APPEND, 0o640)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        // Nothing else of ours may leak into a process that outlives us: not the state lock (a
        // proxy holding it would lock out the next reconciler), not a pipe a test waits on.
        closeOtherDescriptors(&actions)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        var all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(setSessionFlag | Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)))

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard status == 0 else { throw .io(operation: "spawn", path: arguments[0], errno: status) }
        return pid
    }

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc ≥ 2.34's `posix_spawn_file_actions_addclosefrom_np` (not imported into Swift) closes
    /// everything from fd 3 in the child, atomically; older glibc gets one close per open fd.
    private static func closeOtherDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
            return
        }
        for fd in ProcFS.entries("/proc/self/fd").compactMap({ Int32($0) }) where fd > 2 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
    }

    /// Collects the exit status if `pid` is our child and has exited, so no zombie is left behind.
    static func reap(_ pid: Int32) {
        var status: Int32 = 0
        _ = waitpid(pid, &status, WNOHANG)
    }

    /// `name` as given when it holds a slash, else the first executable match on PATH (plus the
    /// sbin directories, where `ip` lives, when they are missing from a service's PATH).
    static func locate(_ name: String, extraDirectories: [String] = []) -> String? {
        if name.contains("/" as Character) { return access(name, X_OK) == 0 ? name : nil }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        let directories = path.split(separator: ":").map(String.init) + extraDirectories
        return directories.lazy.map { $0 + "/" + name }.first { access($0, X_OK) == 0 }
    }
}
