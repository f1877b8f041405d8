import Foundation
import Reconciler

/// Child processes for the state-store tests: a real second process holding the lock, and a
/// writer that can be SIGKILLed at any instant.
enum ChildModes {
    static func holdLock(directory: String) -> Int32 {
        do {
            let store = try StateStore(root: directory)
            FileHandle.standardOutput.write(Data("locked \(getpid())\n".utf8))
            while readLine() != nil {}
            withExtendedLifetime(store) {}
            return 0
        } catch {
            FileHandle.standardError.write(Data("reconcile-bench: \(error.message)\n".utf8))
            return 1
        }
    }

    /// Version n is a header line `version n size s` followed by s bytes of one letter, so a reader
    /// can tell a whole version from a torn one.
    static func writeLoop(file: String) -> Int32 {
        var version = 0
        while true {
            version += 1
            let size = 256 * 1024 + (version % 7) * 4096
            let letter = UInt8(ascii: "a") + UInt8(version % 26)
            let data = Data("version \(version) size \(size)\n".utf8) + Data(repeating: letter, count: size)
            do {
                try AtomicFile.write(data, to: file)
            } catch {
                FileHandle.standardError.write(Data("reconcile-bench: \(error.message)\n".utf8))
                return 1
            }
            if version == 1 {
                FileHandle.standardOutput.write(Data("writing\n".utf8))
            }
        }
    }
}
