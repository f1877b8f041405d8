@testable import Drivers
import Foundation
import Reconciler
import Testing

/// `reconcile pull`'s words for git's failures, and the record status reads: what a host serving an
/// old farm says, and that no URL's credentials get into it.
@Suite struct GitPullTests {
    @Test func namesTheUsualFailuresAndHidesCredentials() {
        #expect(GitPull.reason("hint: Diverging branches can't be fast-forwarded\nfatal: Not possible to fast-forward, aborting.\n")
            .hasPrefix("pull refused (not a fast-forward"))
        let unreachable = GitPull.reason("fatal: unable to access 'https://farm:ghp_s3cret@git.example/farm.git/': Could not resolve host: git.example\n")
        #expect(unreachable == "pull failed (remote unreachable): fatal: unable to access 'https://***@git.example/farm.git/': Could not resolve host: git.example")
        #expect(!unreachable.contains("s3cret"))
        #expect(GitPull.redacted("ssh://git@host/x and https://host/y") == "ssh://***@host/x and https://host/y")
        #expect(GitPull.reason("error: Your local changes to the following files would be overwritten by merge:\n\tfarm.yaml\n")
            == "pull refused (local changes in the checkout would be overwritten)")
    }

    @Test func theRecordKeepsWhenFailuresBeganAndTheLastSuccess() throws {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let ok = PullRecord.after(nil, at: start, failure: nil, commit: "abc")
        let failed = PullRecord.after(ok, at: start + 60, failure: "pull refused (not a fast-forward)", commit: "abc")
        let still = PullRecord.after(failed, at: start + 120, failure: "pull refused (not a fast-forward)", commit: "abc")
        #expect(ok.problem(describing: { "\($0.timeIntervalSince1970)" }) == nil)
        #expect(still.failingSince == start + 60 && still.lastSuccess == start && !still.succeeded)
        #expect(still.problem(describing: { "\(Int($0.timeIntervalSince1970))" })
            == "farm.yaml not updated: pull refused (not a fast-forward) since 1800000060; last successful pull: 1800000000")
        #expect(still.metrics.contains("\nproxyfarm_pull_success 0\n") && still.metrics.hasSuffix("proxyfarm_pull_last_success_timestamp_seconds 1800000000\n"))
        let again = PullRecord.after(still, at: start + 180, failure: nil, commit: "def")
        #expect(again.succeeded && again.failingSince == nil && again.reason == nil)

        let directory = NSTemporaryDirectory() + "pf-pull-\(getpid())-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try still.save(inState: directory)
        #expect(try PullRecord.load(fromState: directory) == still)
    }
}
