// swift-tools-version: 6.0
import PackageDescription

// Release links of `reconcile` place the code a running daemon executes together, so an idle daemon keeps little of its
// binary in memory (README, "Benchmarks"): lld orders functions as packaging/reconcile.order lists them (written by
// scripts/profile-order; scripts/build-release gives every Swift function its own section to be ordered), packs relative
// relocations, and exports no symbols from the executable, which nothing loads by name.
let linkedByUse: [LinkerSetting] = [.unsafeFlags([
    "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic",
    "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/packaging/reconcile.order", "-Xlinker", "--no-warn-symbol-ordering",
], .when(configuration: .release))]

// Module layout and import direction: see DESIGN §2 (CLI → Drivers → Reconciler → Spec).
let package = Package(
    name: "ProxyFarm",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "reconcile", targets: ["ReconcileCLI"]),
        .executable(name: "reconcile-bench", targets: ["ReconcileBenchmark"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        .target(name: "Spec", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "Reconciler", dependencies: ["Spec", .product(name: "Logging", package: "swift-log")]),
        // `reconcile gateway`: the customers' HAProxy entry point of a multi-host farm (DESIGN §9). Pure.
        .target(name: "Gateway", dependencies: ["Reconciler"]),
        .systemLibrary(name: "CUDev", pkgConfig: "libudev", providers: [.apt(["libudev-dev"])]),
        .systemLibrary(name: "CQMI", pkgConfig: "qmi-glib", providers: [.apt(["libqmi-glib-dev", "libmbim-glib-dev"])]),
        .systemLibrary(name: "CGlibcExtras"),
        .systemLibrary(name: "CNFTables", providers: [.apt(["libnftables-dev"])]),
        .target(name: "Drivers", dependencies: ["Reconciler", "Gateway", "CUDev", "CQMI", "CGlibcExtras", "CNFTables", .product(name: "Logging", package: "swift-log")]),
        .target(name: "ModemSimulator"),
        .target(name: "SimulatedDrivers", dependencies: ["Reconciler"]),
        // `reconcile serve`: reads status files and files requests, never touches hardware.
        .target(name: "ControlAPI", dependencies: [
            "Reconciler", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "ReconcileCLI", dependencies: [
            "Drivers", "Gateway", "ModemSimulator", "SimulatedDrivers", "ControlAPI",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "Logging", package: "swift-log"),
        ], linkerSettings: linkedByUse),
        .executableTarget(name: "ReconcileBenchmark", dependencies: [
            "Reconciler", "Drivers", "SimulatedDrivers", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SpecTests", dependencies: ["Spec", .product(name: "Yams", package: "Yams")], resources: [.copy("Fixtures")]),
        // ReconcileBenchmark is a dependency so its hidden child-process modes (lock holder, atomic writer) are built for the state tests.
        .testTarget(name: "ReconcilerTests", dependencies: [
            "Reconciler", "SimulatedDrivers", "ReconcileBenchmark", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "DriversTests", dependencies: ["Drivers", "ModemSimulator"], resources: [.copy("Fixtures")]),
        // Runs discovery inside umockdev testbeds for DriversTests (LD_PRELOAD needs a fresh process).
        .executableTarget(name: "DiscoveryProbe", dependencies: ["Drivers", "Reconciler"], path: "Tests/DiscoveryProbe"),
        .testTarget(name: "ModemSimulatorTests", dependencies: ["ModemSimulator"]),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "Drivers"]),
        .testTarget(name: "ReconcileCLITests", dependencies: ["ReconcileCLI"]),
        .testTarget(name: "ControlAPITests", dependencies: [
            "ControlAPI", .product(name: "Yams", package: "Yams"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
