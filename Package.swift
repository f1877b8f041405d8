// swift-tools-version: 6.0
import PackageDescription

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
    ],
    targets: [
        .target(name: "Spec", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "Reconciler", dependencies: ["Spec", .product(name: "Logging", package: "swift-log")]),
        .systemLibrary(name: "CUDev", pkgConfig: "libudev", providers: [.apt(["libudev-dev"])]),
        .systemLibrary(name: "CQMI", pkgConfig: "qmi-glib", providers: [.apt(["libqmi-glib-dev", "libmbim-glib-dev"])]),
        .systemLibrary(name: "CNetNamespace"),
        .target(name: "Drivers", dependencies: ["Reconciler", "CUDev", "CQMI", "CNetNamespace", .product(name: "Logging", package: "swift-log")]),
        .target(name: "ModemSimulator"),
        .executableTarget(name: "ReconcileCLI", dependencies: [
            "Drivers", "ModemSimulator",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "ReconcileBenchmark", dependencies: ["Reconciler"]),
        .testTarget(name: "SpecTests", dependencies: ["Spec"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ReconcilerTests", dependencies: ["Reconciler"]),
        .testTarget(name: "DriversTests", dependencies: ["Drivers", "ModemSimulator"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModemSimulatorTests", dependencies: ["ModemSimulator"]),
        .testTarget(name: "ReconcileCLITests", dependencies: ["ReconcileCLI"]),
    ],
    swiftLanguageModes: [.v6]
)
