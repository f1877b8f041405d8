import CNetNamespace
import Foundation

/// A named network namespace (`ip netns add NAME`, bound at /var/run/netns/NAME).
enum NetworkNamespace {
    /// Moves the calling thread (only) into the namespace; the error's text when it cannot. Call it
    /// only on a thread that ends afterwards.
    static func enterOnThisThread(_ name: String) -> String? {
        let path = "/var/run/netns/\(name)"
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return "cannot open network namespace \(path): " + String(cString: strerror(errno)) }
        defer { close(descriptor) }
        guard proxyfarm_enter_network_namespace(descriptor) == 0 else {
            return "cannot enter network namespace \(name): " + String(cString: strerror(errno))
        }
        return nil
    }
}
