/// What 3proxy 1.0 can serve, read in its source (shared/docs/3proxy.md): values past these are
/// not refused by 3proxy out loud, they are cut, so `validate` and the renderer refuse them first.
public enum ProxyLimits {
    /// HTTP Basic's decoded `user:password` is cut at 255 bytes (proxy.c, `de64(…, 255)`), so a
    /// longer pair never authenticates over HTTP; SOCKS5 carries at most 255 bytes of each.
    public static let credentialBytes = 255
    /// 3proxy reads its config with `fgets` into a 65535-byte buffer: a longer line is cut in two
    /// and the rest parsed as a line of its own (`Parse error` or `Unknown command`).
    public static let lineBytes = 65534

    /// The most bytes a password of `user` may have so that `user:password` fits HTTP Basic.
    public static func passwordBytes(user: String) -> Int { credentialBytes - user.utf8.count - 1 }
}
