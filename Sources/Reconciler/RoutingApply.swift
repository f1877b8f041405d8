/// What one routing pass did: the changes sent, the batch's error if some failed, and what still
/// differs when the kernel is read back (verify after apply).
public struct RoutingPass: Sendable {
    public var changes: [NetworkChange]
    /// Set when some changes of the batch failed; the others were applied.
    public var applyError: (any OperatorFacingError)?
    /// Empty when the kernel now matches the desired routing.
    public var mismatches: [RoutingMismatch]

    public var converged: Bool { applyError == nil && mismatches.isEmpty }

    /// The problems of one modem, for its conditions.
    public func problems(of modem: String) -> [String] {
        mismatches.filter { $0.modem == modem }.flatMap(\.problems)
    }
}

/// Observe, apply `networkChanges` for the whole farm in one batch, observe again and compare:
/// DESIGN §7's routing step, verified like nmstate does. Nothing is sent when nothing differs.
/// A failed change does not throw: it shows in `applyError` and in the mismatches of its modem.
/// What throws is a kernel that cannot be read, or an apply error that is not operator-facing.
public func applyRouting(_ desired: [ModemRouting], using network: any NetworkControl, owned: OwnedKernel) async throws -> RoutingPass {
    let before = try await network.observe(tables: owned.tables)
    let changes = networkChanges(desired: desired, observed: before, owned: owned)
    guard !changes.isEmpty else { return RoutingPass(changes: [], mismatches: []) }
    var applyError: (any OperatorFacingError)?
    do {
        try await network.apply(changes)
    } catch let error as any OperatorFacingError {
        applyError = error
    }
    let after = try await network.observe(tables: owned.tables)
    return RoutingPass(changes: changes, applyError: applyError,
                       mismatches: routingMismatches(desired: desired, observed: after, owned: owned))
}
