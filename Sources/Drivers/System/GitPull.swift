import Spec
import Foundation

/// `git pull --ff-only` of farm.yaml's checkout (DESIGN §9: git carries the desired state). Its
/// outcome in the operator's words; git's own text is shown with any credentials in a URL removed.
public enum GitPull {
    public struct Outcome: Sendable, Equatable {
        /// Why it failed; nil when the checkout is up to date.
        public var failure: String?
        /// The checkout's commit afterwards (HEAD), when git could tell.
        public var commit: String?
    }

    /// Pulls `directory`'s repository fast-forward only; never asks for a password (no terminal).
    public static func pull(_ directory: String, git: String = "git", timeout: Duration = .seconds(110)) async -> Outcome {
        let command = ["env", "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=/bin/true", git, "-C", directory]
        let pulled: ToolOutput
        do {
            pulled = try await NetworkToolRunner.run(command + ["pull", "--ff-only", "--quiet"], timeout: timeout)
        } catch {
            return Outcome(failure: "pull failed: cannot run git: \(redacted(error.message))", commit: nil)
        }
        let head = try? await NetworkToolRunner.run(command + ["rev-parse", "HEAD"], timeout: .seconds(10))
        let commit = head.flatMap { $0.status == 0 ? String(decoding: $0.stdout, as: UTF8.self).trimmingWhitespace() : nil }
        return Outcome(failure: pulled.status == 0 ? nil : reason(pulled.stderr), commit: commit)
    }

    /// git's complaint as a reason: the usual ones by name, anything else by its first error line.
    static func reason(_ stderr: String) -> String {
        let text = redacted(stderr)
        if text.contains("Not possible to fast-forward") || text.contains("not possible to fast-forward") {
            return "pull refused (not a fast-forward: the repository's history was rewritten or this checkout has its own commits)"
        }
        if text.contains("would be overwritten by merge") {
            return "pull refused (local changes in the checkout would be overwritten)"
        }
        let lines = text.split(separator: "\n").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        let first = lines.first { $0.hasPrefix("fatal:") || $0.hasPrefix("error:") } ?? lines.first ?? "git exited with an error"
        if ["Could not resolve host", "unable to access", "Could not read from remote", "Connection refused", "timed out"].contains(where: first.contains) {
            return "pull failed (remote unreachable): \(first)"
        }
        return "pull failed: \(first)"
    }

    /// `https://user:token@host/…` → `https://***@host/…`: a URL's credentials never reach status or logs.
    public static func redacted(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let scheme = rest.firstRange(of: "://") {
            result += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            let authority = rest.prefix { !"/ \t\n'\"".contains($0) }
            if let at = authority.lastIndex(of: "@") {
                result += "***"
                rest = rest[at...]
            }
        }
        return result + rest
    }
}
