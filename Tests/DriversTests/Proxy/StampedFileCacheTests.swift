import Foundation
import Glibc
import Reconciler
import Testing
@testable import Drivers

/// A file (here a counter file) is read again only when it was written since, and one written just now is not remembered.
@Suite struct StampedFileCacheTests {
    static func file(bytes: UInt8) -> Data {
        Data([0x33, 0x43, 0x46, 0] + [UInt8](repeating: 0, count: 12) + [bytes] + [UInt8](repeating: 0, count: 23))
    }

    static func setModified(_ path: String, secondsAgo: Int) {
        var times = [timespec(tv_sec: time(nil) - secondsAgo, tv_nsec: 0), timespec(tv_sec: time(nil) - secondsAgo, tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, path, &times, 0)
    }

    @Test func readsAgainOnlyWhenWritten() throws {
        let directory = try ProxyTestSupport.makeStateDirectory()
        defer { ProxyTestSupport.removeDirectory(directory) }
        let path = directory + "/3proxy.counters"
        let cache = StampedFileCache { ProxyCounters.decode($0) }
        #expect(cache.value(at: path) == nil)
        try Self.file(bytes: 5).write(to: URL(fileURLWithPath: path))
        Self.setModified(path, secondsAgo: 60)
        #expect(cache.value(at: path)?.records[1]?.bytes == 5)
        // Changed behind the same time stamp: the remembered counts stand (nothing wrote it, as far as stat says).
        try Self.file(bytes: 6).write(to: URL(fileURLWithPath: path))
        Self.setModified(path, secondsAgo: 60)
        #expect(cache.value(at: path)?.records[1]?.bytes == 5)
        // Written just now: read, and read again next time.
        try Self.file(bytes: 7).write(to: URL(fileURLWithPath: path))
        #expect(cache.value(at: path)?.records[1]?.bytes == 7)
        try Self.file(bytes: 8).write(to: URL(fileURLWithPath: path))
        Self.setModified(path, secondsAgo: 0)
        #expect(cache.value(at: path)?.records[1]?.bytes == 8)
        unlink(path)
        #expect(cache.value(at: path) == nil)
    }
}
