import Reconciler
import Testing

@Suite struct WholeFileTests {
    /// This test process maps far more than 4 KiB worth of /proc/self/maps lines; `[stack]` and
    /// `[vdso]` come last, where a reader that keeps only the first 4 KiB never gets.
    @Test func procFilesAreReadToTheirEnd() throws {
        let maps = try #require(WholeFile.text("/proc/self/maps"))
        #expect(maps.utf8.count > 4096)
        #expect(maps.contains("[stack]") && maps.contains("[vdso]"))
        #expect(WholeFile.text("/proc/self/no-such-file") == nil)
        #expect(WholeFile.bytes("/proc/self/no-such-file") == nil)
    }
}
