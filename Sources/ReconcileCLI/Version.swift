/// What `reconcile --version` prints: the release this source tree is (bumped with each release,
/// see docs/install.md).
enum ProgramVersion {
    static let current = "0.1.0"
}
