// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "channel-mirror",
    products: [
        .executable(name: "JobRunner", targets: ["JobRunner"])
    ],
    targets: [
        .systemLibrary(
            name: "CLibpq",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(name: "Core", dependencies: ["CLibpq", "CCurl", "CZlib"]),
        .target(name: "Jobs", dependencies: ["Core"]),
        .executableTarget(name: "JobRunner", dependencies: ["Jobs", "Core"]),
        .target(name: "TestSupport", dependencies: ["Core"], path: "Tests/TestSupport"),
        // The token-counting fake Claude that scripts/bench-translation.sh measures against.
        .executableTarget(name: "BenchFakeClaude", dependencies: ["TestSupport"], path: "Benchmarks/BenchFakeClaude"),
        .testTarget(name: "CoreTests", dependencies: ["Core", "TestSupport"]),
        .testTarget(name: "JobsTests", dependencies: ["Jobs", "Core", "TestSupport"]),
        .testTarget(name: "JobRunnerTests", dependencies: ["Core", "TestSupport"]),
    ]
)
