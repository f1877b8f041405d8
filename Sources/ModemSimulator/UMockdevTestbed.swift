import Glibc

/// A umockdev testbed (a fake /sys and /dev) built through libumockdev, loaded at run time so
/// that only the process hosting simulated hardware needs the library. The process must run
/// under `umockdev-wrapper` (LD_PRELOAD of libumockdev-preload); other processes see the same
/// devices with `LD_PRELOAD=libumockdev-preload.so.0` and `UMOCKDEV_DIR` set to `rootDirectory`.
/// Not thread-safe: call it from one thread at a time.
public final class UMockdevTestbed: @unchecked Sendable {
    private typealias New = @convention(c) () -> OpaquePointer?
    private typealias AddFromString = @convention(c) (OpaquePointer?, UnsafePointer<CChar>, UnsafeMutableRawPointer?) -> Int32
    private typealias RootDir = @convention(c) (OpaquePointer?) -> UnsafeMutablePointer<CChar>?
    private typealias DevFD = @convention(c) (OpaquePointer?, UnsafePointer<CChar>) -> Int32
    private typealias PathAction = @convention(c) (OpaquePointer?, UnsafePointer<CChar>, UnsafePointer<CChar>) -> Void
    private typealias PathOnly = @convention(c) (OpaquePointer?, UnsafePointer<CChar>) -> Void
    private typealias Unref = @convention(c) (OpaquePointer?) -> Void

    private let library: UnsafeMutableRawPointer
    private let testbed: OpaquePointer
    /// The fake root: what `UMOCKDEV_DIR` must name for other processes.
    public let rootDirectory: String

    /// Creates an empty testbed; fails when the library is missing or the preload is not active
    /// (without it the testbed would be invisible even to this process).
    public init() throws(TestbedError) {
        guard let preload = getenv("LD_PRELOAD").map({ String(cString: $0) }), preload.contains("libumockdev-preload") else {
            throw TestbedError("not running under umockdev-wrapper (LD_PRELOAD lacks libumockdev-preload)")
        }
        guard let library = dlopen("libumockdev.so.0", RTLD_NOW) else {
            throw TestbedError("libumockdev.so.0 cannot be loaded: install the Debian package libumockdev0")
        }
        self.library = library
        let new: New = try Self.symbol(library, "umockdev_testbed_new")
        let rootDir: RootDir = try Self.symbol(library, "umockdev_testbed_get_root_dir")
        guard let testbed = new(), let root = rootDir(testbed) else { throw TestbedError("umockdev_testbed_new failed") }
        self.testbed = testbed
        rootDirectory = String(cString: root)
        free(root)
    }

    deinit {
        if let unref: Unref = try? Self.symbol(library, "g_object_unref") { unref(testbed) }
    }

    /// Adds the devices of a umockdev description (parents first); umockdev sends their `add` uevents.
    public func add(_ description: String) throws(TestbedError) {
        let add: AddFromString = try Self.symbol(library, "umockdev_testbed_add_from_string")
        guard add(testbed, description, nil) != 0 else { throw TestbedError("umockdev rejected the device description") }
    }

    /// The testbed's end of the pseudo-terminal umockdev put behind a character device node.
    public func deviceDescriptor(_ node: String) throws(TestbedError) -> Int32 {
        let devFD: DevFD = try Self.symbol(library, "umockdev_testbed_get_dev_fd")
        let fd = devFD(testbed, node)
        guard fd >= 0 else { throw TestbedError("no descriptor for \(node)") }
        return fd
    }

    /// Sends a uevent (`add`, `remove`, `change`) for a device, given by its /sys path.
    public func uevent(_ syspath: String, _ action: String) throws(TestbedError) {
        let send: PathAction = try Self.symbol(library, "umockdev_testbed_uevent")
        send(testbed, syspath, action)
    }

    /// Removes a device and everything below it from the fake /sys and /dev (no uevent).
    public func remove(_ syspath: String) throws(TestbedError) {
        let remove: PathOnly = try Self.symbol(library, "umockdev_testbed_remove_device")
        let nodes = deviceNodes(below: syspath)
        remove(testbed, syspath)
        removeLeftovers(nodes: nodes)
    }

    /// The DEVNAMEs (`/dev/cdc-wdm0`) of a device and the devices below it.
    private func deviceNodes(below syspath: String) -> [String] {
        var nodes: [String] = []
        var pending = [rootDirectory + syspath]
        while let directory = pending.popLast() {
            if let uevent = Self.contents(directory + "/uevent") {
                nodes += uevent.split(separator: "\n").filter { $0.hasPrefix("DEVNAME=") }.map { String($0.dropFirst(8)) }
            }
            for entry in Self.entries(directory) {
                var info = stat()
                let path = directory + "/" + entry
                if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { pending.append(path) }
            }
        }
        return nodes
    }

    /// umockdev 0.17 leaves a removed device's /sys/bus/*/devices and /sys/class/* links and its
    /// /dev node records behind, and adding the device again then aborts the process: drop them.
    private func removeLeftovers(nodes: [String]) {
        for node in nodes {
            let name = node.hasPrefix("/dev/") ? String(node.dropFirst(5)) : node
            unlink(rootDirectory + "/dev/.node/" + String(name.map { $0 == "/" ? "_" : $0 }))
            unlink(rootDirectory + "/dev/" + name)
        }
        let sys = rootDirectory + "/sys"
        let directories = Self.entries(sys + "/bus").map { "\(sys)/bus/\($0)/devices" }
            + Self.entries(sys + "/class").map { "\(sys)/class/\($0)" }
        for directory in directories {
            for entry in Self.entries(directory) {
                let path = directory + "/" + entry
                var target = stat()
                if stat(path, &target) != 0 { unlink(path) }
            }
        }
    }

    private static func contents(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &buffer, buffer.count)
            guard count > 0 else { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func entries(_ directory: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    private static func symbol<T>(_ library: UnsafeMutableRawPointer, _ name: String) throws(TestbedError) -> T {
        guard let address = dlsym(library, name) else { throw TestbedError("libumockdev lacks \(name)") }
        return unsafeBitCast(address, to: T.self)
    }
}

/// A testbed that could not be built or changed, with the reason.
public struct TestbedError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
