import Foundation
import Reconciler
import SimulatedDrivers
import Spec
import Testing

@Suite struct ModemRequestPassTests {
    @Test func rotateRequestRotatesOnceAndIsConsumed() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        try harness.store.requests.file(ModemRequest(kind: .rotate, modem: "m02"))
        #expect(try await harness.plan().lines == ["m02: rotate — requested by the operator"])
        let result = try await harness.pass()
        #expect(result.converged)
        #expect(result.applied.filter { $0.action.kind == .rotate }.count == 1)
        #expect(harness.store.requests.contents().requests.isEmpty)
        #expect(try harness.store.readModemStatus("m02")?.ip == "100.64.2.11")
        #expect(try harness.store.readModemStatus("m01")?.ip == "100.64.1.10")
    }

    @Test func resetRequestAllowsOneMorePinTry() async throws {
        var spec = makeSpec(count: 1)
        spec.modems[0].pin = .value("0000")
        var harness = try await Harness(spec: spec, plug: false)
        await harness.farm.plug(serial: serial(1), pin: TestSecrets.pin)
        try await harness.pass()
        #expect(try harness.store.readModemStatus("m01")?.condition(.simReady)?.reason == "SimPinRejected")
        harness.spec.modems[0].pin = .env("PIN")
        #expect(try await harness.plan().isEmpty)
        try harness.store.requests.file(ModemRequest(kind: .reset, modem: "m01"))
        let retry = try await harness.plan()
        #expect(retry.lines.first == "m01: unlock SIM — PIN retry requested by the operator (2 tries left)", "\(retry)")
        let result = try await harness.pass()
        #expect(result.converged, "\(result.remaining.lines)")
        #expect(try harness.store.readModemStatus("m01")?.condition(.simReady)?.status == "True")
    }
}

@Suite struct RequestLifecycleTests {
    @Test func aRequestForAModemNotInFarmYamlIsDroppedAndNothingElseHappens() async throws {
        let harness = try await Harness(spec: makeSpec(count: 1))
        try await harness.pass()
        try harness.store.requests.file(ModemRequest(kind: .rotate, modem: "m09"))

        let result = try await harness.pass()

        #expect(result.applied.isEmpty)
        #expect(harness.store.requests.contents().requests.isEmpty)
    }

    @Test func aRequestWaitsUntilItsModemCanActOnIt() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2), plug: false)
        await harness.farm.plug(serial: serial(1))
        try await harness.pass()
        let rotate = try ModemRequest(kind: .rotate, modem: "m02")
        try harness.store.requests.file(rotate)

        let missing = try await harness.pass()
        #expect(missing.answeredRequests.isEmpty)
        #expect(harness.store.requests.contents().requests == [rotate])

        await harness.farm.plug(serial: serial(2))
        let plugged = try await harness.pass()
        #expect(plugged.answeredRequests == [rotate])
        #expect(plugged.applied.filter { $0.action.kind == .rotate }.map(\.action.modem) == ["m02"])
        #expect(harness.store.requests.contents().requests.isEmpty)
        #expect(try harness.store.readModemStatus("m02")?.phase == .ready)
    }

    @Test func otherFilesInTheInboxAreLeftAlone() async throws {
        let harness = try await Harness(spec: makeSpec(count: 1))
        try Data().write(to: URL(fileURLWithPath: harness.store.requests.directory + "/restart-m01"))

        try await harness.pass()

        #expect(harness.store.requests.contents().strangers == ["restart-m01"])
    }

    /// Directories, FIFOs and symlinks named like requests never fail a pass and are left alone.
    @Test func garbageInTheInboxNeitherFailsAPassNorIsActedOn() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        let directory = harness.store.requests.directory
        #expect(mkdir(directory + "/reset-m02", 0o755) == 0)
        #expect(mkfifo(directory + "/rotate-m01", 0o644) == 0)
        #expect(symlink("/etc/hostname", directory + "/reset-m01") == 0)
        try Data(repeating: 0xFF, count: 64).write(to: URL(fileURLWithPath: directory + "/\u{1}garbage"))

        for _ in 0..<2 {
            let result = try await harness.pass()
            #expect(result.converged)
            #expect(result.applied.isEmpty)
        }
        #expect(harness.store.requests.contents().strangers == ["\u{1}garbage", "reset-m01", "reset-m02", "rotate-m01"])
    }

    /// A pass killed after acting on a request but before removing its file: the next pass finds
    /// the very same file (same inode, same mtime: a hard link kept aside restores it) and only
    /// removes it. Filed again later (a new file), it is a new request.
    @Test func aRequestTakenByAKilledPassIsNotActedOnAgain() async throws {
        let harness = try await Harness(spec: makeSpec(count: 2))
        try await harness.pass()
        let rotate = try ModemRequest(kind: .rotate, modem: "m02")
        try harness.store.requests.file(rotate)
        let path = harness.store.requests.directory + "/" + rotate.fileName
        let aside = harness.store.root + "/rotate-m02.aside"
        #expect(link(path, aside) == 0)

        let first = try await harness.pass()
        #expect(first.applied.filter { $0.action.kind == .rotate }.count == 1)
        #expect(link(aside, path) == 0)
        let second = try await harness.pass()
        #expect(second.applied.isEmpty)
        #expect(harness.store.requests.contents().requests.isEmpty)

        usleep(10_000)
        try harness.store.requests.file(rotate)
        let third = try await harness.pass()
        #expect(third.applied.filter { $0.action.kind == .rotate }.count == 1)
    }
}
