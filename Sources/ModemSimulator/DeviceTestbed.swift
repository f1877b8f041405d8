import Glibc

/// Simulated hardware without LD_PRELOAD: in the calling process's own mount namespace it puts a
/// tmpfs over `/sys`, `/dev` and `/run/udev` and fills them the way the kernel and udev would for
/// the devices added — sysfs directories, `uevent` files, attributes, subsystem/driver/class
/// links, device nodes bind-mounted from pseudo-terminals — and announces each device with a
/// libudev netlink message (`UEventSender`). Any process that joins the namespace (`nsenter
/// --mount --net`) runs real, unmodified libudev and libqmi against it; only
/// `SYSTEMD_DEVICE_VERIFY_SYSFS=0` is needed, since libudev otherwise refuses a /sys that is not
/// sysfs. Nothing is intercepted, so nothing can race: the process under test is not touched.
///
/// Refuses to run in its parent's mount namespace (it would cover the host's /sys and /dev). Not thread-safe: call it from one thread.
public final class DeviceTestbed: @unchecked Sendable {
    private let uevents: UEventSender
    /// The devices added, by sysfs path, for their uevents and their removal.
    private var devices: [String: DeviceDescription] = [:]

    /// Subsystems that are buses (`/sys/bus/X`); any other subsystem is a class (`/sys/class/X`).
    private static let buses: Set<String> = ["usb", "pci", "platform", "usb-serial"]

    public init() throws(TestbedError) {
        // The parent (`lab up`, a shell) is outside; /proc/1 may be unreadable without CAP_SYS_PTRACE.
        let outside = Self.link("/proc/\(getppid())/ns/mnt") ?? Self.link("/proc/1/ns/mnt")
        guard let own = Self.link("/proc/self/ns/mnt"), let outside, own != outside else {
            throw TestbedError("not in a mount namespace of its own: start it with `ip netns exec` or `unshare --mount`")
        }
        uevents = try UEventSender()
        try Self.mount("tmpfs", at: "/sys", options: "mode=755")
        for directory in ["/sys/bus", "/sys/class", "/sys/devices"] { try Self.makeDirectories(directory) }
        try Self.prepareDev()
        // libudev only subscribes to udev's events where /run/udev/control exists (or /dev is a
        // devtmpfs); the empty mount point is created on the host when it has no udev.
        try Self.makeDirectories("/run/udev")
        try Self.mount("tmpfs", at: "/run/udev", options: "mode=755")
        try Self.write("", to: "/run/udev/control")
        try Self.makeDirectories("/run/udev/data")
    }

    /// Adds the devices of a description (parents first) and sends their `add` events. `nodes`
    /// maps each `N:` node name to the file bind-mounted there (a pseudo-terminal's slave).
    public func add(_ description: String, nodes: [String: String] = [:]) throws(TestbedError) {
        let added = try DeviceDescription.parse(description)
        for device in added {
            try create(device, nodeSource: device.node.flatMap { nodes[$0] })
            devices[device.path] = device
        }
        for device in added { try uevents.send("add", device) }
    }

    /// Sends a uevent (`add`, `remove`, `change`) for a device, given by its /sys path.
    public func uevent(_ syspath: String, _ action: String) throws(TestbedError) {
        guard let device = devices[Self.relative(syspath)] else { throw TestbedError("no device \(syspath)") }
        try uevents.send(action, device)
    }

    /// Removes a device and every device below it: their nodes, links and sysfs directories (no uevent).
    public func remove(_ syspath: String) throws(TestbedError) {
        let path = Self.relative(syspath)
        for device in devices.values where device.path == path || device.path.hasPrefix(path + "/") {
            devices[device.path] = nil
            if let node = device.node {
                umount2("/dev/" + node, Int32(MNT_DETACH))
                unlink("/dev/" + node)
            }
            if let directory = Self.registrationDirectory(device) { unlink(directory + "/" + device.name) }
        }
        Self.removeTree("/sys" + path)
    }

    private func create(_ device: DeviceDescription, nodeSource: String?) throws(TestbedError) {
        let directory = "/sys" + device.path
        try Self.makeDirectories(directory)
        let uevent = device.properties.filter { $0.key != "SUBSYSTEM" }.map { "\($0.key)=\($0.value)\n" }.joined()
        try Self.write(uevent, to: directory + "/uevent")
        if let subsystem = device.subsystem {
            let isBus = Self.buses.contains(subsystem)
            let subsystemDirectory = isBus ? "/sys/bus/\(subsystem)" : "/sys/class/\(subsystem)"
            try Self.makeDirectories(subsystemDirectory + (isBus ? "/devices" : ""))
            try Self.symlink(directory + "/subsystem", to: subsystemDirectory)
            if isBus, let driver = device.property("DRIVER") {
                try Self.makeDirectories("\(subsystemDirectory)/drivers/\(driver)")
                try Self.symlink(directory + "/driver", to: "\(subsystemDirectory)/drivers/\(driver)")
            }
        }
        for (name, value) in device.attributes {
            let file = directory + "/" + name
            try Self.makeDirectories(Self.parent(file))
            try Self.write(value + "\n", to: file)
        }
        for (name, target) in device.links where !Self.exists(directory + "/" + name) {
            // Like the kernel's, a link's target exists (libqmi resolves the driver link).
            let absolute = Self.resolve(target, from: directory)
            try Self.makeDirectories(absolute)
            try Self.symlink(directory + "/" + name, to: absolute)
        }
        if let registration = Self.registrationDirectory(device) {
            try Self.symlink(registration + "/" + device.name, to: directory)
        }
        if let node = device.node, let nodeSource {
            let path = "/dev/" + node
            try Self.write("", to: path)
            guard Glibc.mount(nodeSource, path, nil, UInt(MS_BIND), nil) == 0 else {
                throw TestbedError("bind-mounting \(nodeSource) at \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Where the device is listed: `/sys/bus/X/devices` or `/sys/class/X`.
    private static func registrationDirectory(_ device: DeviceDescription) -> String? {
        device.subsystem.map { buses.contains($0) ? "/sys/bus/\($0)/devices" : "/sys/class/\($0)" }
    }

    /// A private /dev: the usual character devices, a devpts instance of its own (the
    /// simulators' pseudo-terminals), /dev/shm, and the /proc/self/fd links.
    private static func prepareDev() throws(TestbedError) {
        try mount("tmpfs", at: "/dev", options: "mode=755")
        try makeDirectories("/dev/pts")
        try mount("devpts", at: "/dev/pts", options: "newinstance,ptmxmode=0666,mode=620")
        try symlink("/dev/ptmx", to: "/dev/pts/ptmx")
        for (name, major, minor) in [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)] {
            guard mknod("/dev/" + name, S_IFCHR | 0o666, dev_t(major << 8 | minor)) == 0 else {
                throw TestbedError("mknod /dev/\(name): \(String(cString: strerror(errno)))")
            }
            chmod("/dev/" + name, 0o666)
        }
        try makeDirectories("/dev/shm")
        try mount("tmpfs", at: "/dev/shm", options: "mode=1777")
        for (name, target) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")] {
            try symlink("/dev/" + name, to: target)
        }
    }

    private static func mount(_ type: String, at target: String, options: String) throws(TestbedError) {
        guard Glibc.mount(type, target, type, UInt(MS_NOSUID), options) == 0 else {
            throw TestbedError("mounting \(type) on \(target): \(String(cString: strerror(errno)))")
        }
    }

    /// A relative link, as the kernel makes them, from `path` to the absolute `target`.
    private static func symlink(_ path: String, to target: String) throws(TestbedError) {
        let depth = path.split(separator: "/").count - 1
        let relative = String(repeating: "../", count: depth) + target.drop { $0 == "/" }
        guard Glibc.symlink(relative, path) == 0 else { throw TestbedError("link \(path): \(String(cString: strerror(errno)))") }
    }

    private static func resolve(_ target: String, from directory: String) -> String {
        var components = target.hasPrefix("/") ? [] : directory.split(separator: "/").map(String.init)
        for component in target.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(String(component))
            }
        }
        return "/" + components.joined(separator: "/")
    }

    private static func relative(_ syspath: String) -> String { syspath.hasPrefix("/sys/") ? String(syspath.dropFirst(4)) : syspath }
    private static func parent(_ path: String) -> String { resolve("..", from: path) }

    private static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    private static func makeDirectories(_ path: String) throws(TestbedError) {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            guard mkdir(current, 0o755) == 0 || errno == EEXIST else { throw TestbedError("mkdir \(current): \(String(cString: strerror(errno)))") }
        }
    }

    private static func write(_ text: String, to path: String) throws(TestbedError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TestbedError("write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.isEmpty || Glibc.write(fd, bytes, bytes.count) == bytes.count else { throw TestbedError("write \(path): \(String(cString: strerror(errno)))") }
    }

    private static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let length = readlink(path, &buffer, buffer.count - 1)
        return length > 0 ? String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
    }

    /// `rm -r` of a directory of the fake sysfs (it holds only files, directories and links).
    private static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR, let stream = opendir(path) {
            var names: [String] = []
            while let entry = readdir(stream) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(stream)
            for name in names { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
