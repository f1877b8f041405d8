import Foundation
import Testing

@Suite struct RequestCommandTests {
    @Test func rotateAndResetFileRequestsForTheDaemon() throws {
        let state = NSTemporaryDirectory() + "pf\(getpid())-requests-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: state) }

        let rotate = try Subprocess.run(try Subprocess.reconcile, ["rotate", "m01", "m02", "--state", state])
        let reset = try Subprocess.run(try Subprocess.reconcile, ["reset", "m03", "--state", state])

        #expect(rotate.status == 0, "\(rotate.stderr)")
        #expect(reset.status == 0, "\(reset.stderr)")
        #expect(rotate.stdout.hasPrefix("rotate m01: filed in \(state)/requests;"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: state + "/requests").sorted() == ["reset-m03", "rotate-m01", "rotate-m02"])
    }

    @Test func aRelativeStateDirectoryIsRelativeToTheWorkingDirectory() throws {
        let work = NSTemporaryDirectory() + "pf\(getpid())-cwd-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }

        let result = try Subprocess.run(try Subprocess.reconcile, ["reset", "m04", "--state", "farm/state"], in: work)

        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: work + "/farm/state/requests/reset-m04"))
    }

    @Test func aBadNameFilesNothing() throws {
        let state = NSTemporaryDirectory() + "pf\(getpid())-badrequest-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: state) }

        let result = try Subprocess.run(try Subprocess.reconcile, ["rotate", "m01", "../etc", "--state", state])

        #expect(result.status == 1)
        #expect(result.stderr.contains("'../etc' is not a modem name"))
        #expect(!FileManager.default.fileExists(atPath: state + "/requests/rotate-m01"))
    }
}
