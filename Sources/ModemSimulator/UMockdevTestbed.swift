import Glibc

/// A umockdev testbed (a fake /sys and /dev) built through libumockdev, loaded at run time so
/// that only the process hosting simulated hardware needs the library. For tests of one small
/// process (umockdev's preload races with other threads); the lab uses `DeviceTestbed`. The process must run
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
