"""The proxy side of the 3proxy stand-in: users, ACLs, and the `proxy` (HTTP) and `socks` (SOCKS5)
services, with 3proxy's answers (407 with Proxy-Authenticate, 403 for an explicit deny, 502 when the
target cannot be reached, SOCKS4 and no-auth refused). Imported by `3proxy-standin` before it drops
privileges; never writes a password anywhere. MD5-crypt (`$1$`) is implemented here because the
`crypt` module is deprecated (removed in Python 3.13).

3proxy's byte limits (its source): HTTP Basic's decoded `user:password` is cut at 255 bytes
(proxy.c de64(…, 255)), a `CL` password is kept and compared to 255 bytes (conf.c h_users,
auth.c strongauth). After a reload every open connection is authenticated again against the new
users and its own service's ACL, and closed when that fails (sockmap.c, unless `noforce`).
"""
import base64, binascii, hashlib, ipaddress, select, socket, struct, sys, threading, time
import encodings.idna  # noqa: F401  loaded now: after setuid the interpreter's own files may be unreadable
from standin_counters import Counters

ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CREDENTIAL_BYTES = 255
OVER_LIMITS = (b"HTTP/1.0 503 Service Unavailable\r\nConnection: close\r\nContent-type: text/html; charset=utf-8\r\n\r\n"
               b"<html><head><title>503 Service Unavailable</title></head>\r\n"
               b"<body><h2>503 Service Unavailable</h2><h3>You have exceeded your limits</h3></body></html>\r\n")


def md5crypt(password: bytes, salt: bytes) -> str:
    """The `$1$` scheme of `openssl passwd -1` (Poul-Henning Kamp's MD5-crypt)."""
    salt = salt[:8]
    ctx = hashlib.md5(password + b"$1$" + salt)
    alt = hashlib.md5(password + salt + password).digest()
    for left in range(len(password), 0, -16):
        ctx.update(alt[:min(16, left)])
    bit = len(password)
    while bit:
        ctx.update(b"\0" if bit & 1 else password[:1])
        bit >>= 1
    final = ctx.digest()
    for i in range(1000):
        step = hashlib.md5(password if i & 1 else final)
        if i % 3:
            step.update(salt)
        if i % 7:
            step.update(password)
        step.update(final if i & 1 else password)
        final = step.digest()
    out = ""
    for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5), (None, None, 11)):
        value = (final[a] << 16 if a is not None else 0) | (final[b] << 8 if b is not None else 0) | final[c]
        for _ in range(4 if a is not None else 2):
            out += ITOA64[value & 0x3F]
            value >>= 6
    return "$1$" + salt.decode() + "$" + out


def parse_list(field: str, parse, what: str):
    """An ACL field: `*` (None = any) or a comma list with no spaces."""
    if field == "*":
        return None
    try:
        return [parse(item) for item in field.split(",")]
    except ValueError:
        raise ValueError(what)


def parse_ports(item: str):
    low, _, high = item.partition("-")
    low, high = int(low), int(high or low)
    if not 0 < low <= high <= 65535:
        raise ValueError
    return (low, high)


class Ace:
    """One allow/deny line: users, sources (CIDR), targets (CIDR), ports; missing = any."""

    def __init__(self, action: str, fields: list):
        if len(fields) > 4:
            raise ValueError("operations/weekdays/times are outside the subset")
        fields = fields + ["*"] * (4 - len(fields))
        self.action = action
        self.users = parse_list(fields[0], lambda u: u, "users")
        self.sources = parse_list(fields[1], lambda c: ipaddress.ip_network(c, strict=False), "sources")
        self.targets = parse_list(fields[2], lambda c: ipaddress.ip_network(c, strict=False), "targets")
        self.ports = parse_list(fields[3], parse_ports, "ports")

    def matches(self, user, client, target, port) -> bool:
        return ((self.users is None or user in self.users)
                and (self.sources is None or any(client in n for n in self.sources))
                and (self.targets is None or any(target in n for n in self.targets))
                and (self.ports is None or any(a <= port <= b for a, b in self.ports)))


class Farm:
    """Global state shared by all services: users and the log (looked up per request)."""

    def __init__(self):
        self.users = {}
        self.log_path = None
        self.log_file = None
        self.log_day = None
        self.rotate = 0
        self.version = 0
        self.paused = 0
        self.lock = threading.Lock()
        self.services = []
        self.counters = Counters()

    def check_password(self, user: str, password: bytes) -> bool:
        kind, secret = self.users.get(user, (None, None))
        if kind == "CL":
            return password[:CREDENTIAL_BYTES] == secret.encode("utf-8", "surrogateescape")[:CREDENTIAL_BYTES]
        if kind == "CR":
            salt = secret.split("$")[2]
            return md5crypt(password, salt.encode()) == secret
        return False

    def log(self, service, code, user, client, target, sent, received, request):
        """logstdout: the open dated file, or stdout when none could be opened."""
        if self.log_path is None:
            return
        stamp = time.strftime("%d-%m-%Y %H:%M:%S")
        line = (f"{stamp} {service.kind.upper()}.{service.port} {code:05d} {user or '-'} "
                f"{client[0]}:{client[1]} {target} {sent} {received} {request}\n")
        with self.lock:
            out = self.log_file or sys.stdout
            out.write(line)
            out.flush()


class Service(threading.Thread):
    """One `proxy` or `socks` line: a listener with its own copy of auth, ACL and maxconn."""

    def __init__(self, farm, kind, args, strong, acl, maxconn):
        super().__init__(daemon=True)
        self.farm, self.kind, self.strong, self.acl = farm, kind, strong, list(acl)
        self.slots = threading.BoundedSemaphore(maxconn)
        self.port, self.address, self.anonymous = Service.options(kind, args)
        self.stopped = threading.Event()
        self.paused = farm.paused
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self.sock.bind((self.address, self.port))
        self.sock.listen(1 + maxconn // 8)

    @staticmethod
    def options(kind, args):
        """`-pPORT -iIPv4 [-a]`: the only service options in the subset."""
        port, address, anonymous = None, None, False
        for arg in args:
            if arg.startswith("-p") and arg[2:].isdigit() and 0 < int(arg[2:]) < 65536:
                port = int(arg[2:])
            elif arg.startswith("-i"):
                address = str(ipaddress.IPv4Address(arg[2:]))
            elif arg == "-a" and kind == "proxy":
                anonymous = True
            else:
                raise ValueError(arg)
        if port is None or address is None:
            raise ValueError("-p and -i are required in the subset")
        return port, address, anonymous

    def run(self):
        while not self.stopped.is_set() and self.farm.paused == self.paused:
            if not select.select([self.sock], [], [], 0.1)[0]:
                continue
            try:
                client, peer = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.serve, args=(client, peer), daemon=True).start()
        self.sock.close()

    def serve(self, client, peer):
        with self.slots:
            try:
                client.settimeout(60)
                (self.serve_http if self.kind == "proxy" else self.serve_socks)(client, peer)
            except Exception:  # a broken client ends its own connection, never the proxy
                pass
            finally:
                client.close()

    def decide(self, user, peer, target_ip, port) -> str:
        """`ok`, or why not: an empty ACL allows; no match in a non-empty ACL is the 407 implicit deny."""
        client = ipaddress.ip_address(peer[0])
        for ace in self.acl:
            if ace.matches(user, client, ipaddress.ip_address(target_ip), port):
                return "ok" if ace.action == "allow" else "denied"
        return "ok" if not self.acl else "implicit"

    def serve_http(self, client, peer):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(65536)
            if not chunk or len(head) > 65536:
                return
            head += chunk
        head, _, body = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = [tuple(h.split(":", 1)) for h in lines[1:] if ":" in h]
        user, password = None, None
        for name, value in headers:
            if name.strip().lower() == "proxy-authorization" and value.split()[0].lower() == "basic":
                try:
                    decoded = base64.b64decode(value.split()[1])[:CREDENTIAL_BYTES]
                except (binascii.Error, IndexError):
                    continue
                name_bytes, _, password = decoded.partition(b":")
                user = name_bytes.decode("utf-8", "surrogateescape")
        request = f"{method} {target} {version}"
        if self.strong and not (user is not None and self.farm.check_password(user, password)):
            self.farm.log(self, 4, user, peer, "-", 0, 0, request)
            return client.sendall(b"HTTP/1.0 407 Proxy Authentication Required\r\n"
                                  b"Proxy-Authenticate: Basic realm=\"proxy\"\r\nConnection: close\r\n\r\n")
        if not self.strong:
            user = None
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            path = None
        elif target.startswith("http://"):
            hostport, _, path = target[7:].partition("/")
            host, _, port = hostport.partition(":")
            path = "/" + path
        else:
            return client.sendall(b"HTTP/1.0 400 Bad Request\r\nConnection: close\r\n\r\n")
        port = int(port or 80)
        target_ip = socket.gethostbyname(host.strip("[]"))
        verdict = self.decide(user, peer, target_ip, port)
        if verdict != "ok":
            self.farm.log(self, 10, user, peer, f"{target_ip}:{port}", 0, 0, request)
            if verdict == "denied":
                return client.sendall(b"HTTP/1.0 403 Forbidden\r\nConnection: close\r\n\r\n")
            return client.sendall(b"HTTP/1.0 407 Proxy Authentication Required\r\n"
                                  b"Proxy-Authenticate: Basic realm=\"proxy\"\r\nConnection: close\r\n\r\n")
        try:
            upstream = socket.create_connection((target_ip, port), timeout=15)
        except OSError:
            self.farm.log(self, 12, user, peer, f"{target_ip}:{port}", 0, 0, request)
            return client.sendall(b"HTTP/1.0 502 Bad Gateway\r\nConnection: close\r\n\r\n")
        with upstream:
            session = (user, ipaddress.ip_address(peer[0]), ipaddress.ip_address(target_ip), port)
            allowed = self.farm.counters.admit(*session)
            if allowed is None:
                self.farm.log(self, 10, user, peer, f"{target_ip}:{port}", 0, 0, request)
                return client.sendall(OVER_LIMITS)
            upstream.settimeout(None)
            sent, received = len(head) + 4 + len(body), 0
            if path is None:
                client.sendall(b"HTTP/1.0 200 Connection established\r\n\r\n")
            else:
                length = next((int(v) for n, v in headers if n.strip().lower() == "content-length" and v.strip().isdigit()), 0)
                if allowed["out"] and (allowed["out"] < sent or length > allowed["out"] - sent):  # proxy.c: a body past the quota
                    self.farm.log(self, 10, user, peer, f"{target_ip}:{port}", 0, 0, request)
                    return client.sendall(OVER_LIMITS)
                kept = [f"{n}:{v}" for n, v in headers
                        if n.strip().lower() not in ("proxy-authorization", "proxy-connection", "connection")]
                if not self.anonymous:
                    kept.append(f"Forwarded: for={peer[0]}")
                upstream.sendall("\r\n".join([f"{method} {path} {version}"] + kept + ["Connection: close", "", ""])
                                 .encode("latin-1") + body)
                if allowed["in"]:
                    answer = read_head(upstream)
                    received = len(answer)
                    if allowed["in"] < received or content_length(answer) + received > allowed["in"]:
                        self.farm.counters.count(*session, received, sent)
                        self.farm.log(self, 10, user, peer, f"{target_ip}:{port}", sent, received, request)
                        return client.sendall(OVER_LIMITS)
                    client.sendall(answer)
            more_sent, more_received = relay(client, upstream, self.recheck(user, password, peer, target_ip, port),
                                             (max(allowed["out"] - sent, 1) if allowed["out"] else 0,
                                              max(allowed["in"] - received, 1) if allowed["in"] else 0))
            sent, received = sent + more_sent, received + more_received
        self.farm.counters.count(*session, received, sent)
        self.farm.log(self, 0, user, peer, f"{target_ip}:{port}", sent, received, request)

    def recheck(self, user, password, peer, target_ip, port):
        """What an open connection runs when the config version moved on: 3proxy authenticates it
        again (new users, this service's ACL) and closes it when that fails."""
        version = self.farm.version

        def still_allowed() -> bool:
            nonlocal version
            if self.farm.version == version:
                return True
            version = self.farm.version
            if self.strong and not self.farm.check_password(user, password or b""):
                return False
            return self.decide(user, peer, target_ip, port) == "ok"
        return still_allowed

    def serve_socks(self, client, peer):
        version = client.recv(1)
        if version != b"\x05":
            return client.sendall(b"\x00\x5b")  # SOCKS4 cannot authenticate: request rejected
        methods = recv_exact(client, recv_exact(client, 1)[0])
        wanted = 2 if self.strong else (0 if 0 in methods else 2)
        if wanted not in methods:
            return client.sendall(b"\x05\xff")
        client.sendall(bytes([5, wanted]))
        user, password = None, b""
        if wanted == 2:
            recv_exact(client, 1)
            name = recv_exact(client, recv_exact(client, 1)[0]).decode("utf-8", "surrogateescape")
            password = recv_exact(client, recv_exact(client, 1)[0])
            if self.strong and not self.farm.check_password(name, password):
                self.farm.log(self, 4, name, peer, "-", 0, 0, "CONNECT")
                return client.sendall(b"\x01\x01")
            client.sendall(b"\x01\x00")
            user = name if self.strong else None
        _, command, _, kind = recv_exact(client, 4)
        if kind == 1:
            host = socket.inet_ntoa(recv_exact(client, 4))
        elif kind == 3:
            host = recv_exact(client, recv_exact(client, 1)[0]).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, recv_exact(client, 16))
        port = struct.unpack(">H", recv_exact(client, 2))[0]
        if command != 1:
            return client.sendall(b"\x05\x07\x00\x01" + bytes(6))
        target_ip = socket.gethostbyname(host)
        if self.decide(user, peer, target_ip, port) != "ok":
            self.farm.log(self, 10, user, peer, f"{target_ip}:{port}", 0, 0, "CONNECT")
            return client.sendall(b"\x05\x02\x00\x01" + bytes(6))
        try:
            upstream = socket.create_connection((target_ip, port), timeout=15)
        except OSError:
            self.farm.log(self, 12, user, peer, f"{target_ip}:{port}", 0, 0, "CONNECT")
            return client.sendall(b"\x05\x05\x00\x01" + bytes(6))
        with upstream:
            session = (user, ipaddress.ip_address(peer[0]), ipaddress.ip_address(target_ip), port)
            allowed = self.farm.counters.admit(*session)
            if allowed is None:  # 3proxy answers with its own listening address
                self.farm.log(self, 10, user, peer, f"{target_ip}:{port}", 0, 0, "CONNECT")
                address, bound = client.getsockname()[:2]
                return client.sendall(b"\x05\x02\x00\x01" + socket.inet_aton(address) + struct.pack(">H", bound))
            upstream.settimeout(None)
            address, bound = upstream.getsockname()[:2]
            client.sendall(b"\x05\x00\x00\x01" + socket.inet_aton(address) + struct.pack(">H", bound))
            sent, received = relay(client, upstream, self.recheck(user, password, peer, target_ip, port),
                                   (allowed["out"], allowed["in"]))
        self.farm.counters.count(*session, received, sent)
        self.farm.log(self, 0, user, peer, f"{target_ip}:{port}", sent, received, "CONNECT")


def recv_exact(sock, count) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ValueError("short read")
        data += chunk
    return data


def read_head(sock) -> bytes:
    """An HTTP answer's status line and headers, as proxy.c reads them before it passes them on."""
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 65536:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    return head


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    return 0


def relay(client, upstream, still_allowed, caps=(0, 0)):
    """Copies both ways until both sides have closed, or a reload's re-check fails; returns bytes
    (to upstream, to client). 3proxy re-checks when its copy loop next wakes: a second at most here.
    `caps`: the bytes the session may still send and receive under its quotas (0 = no cap); once
    either is reached the session ends, as sockmap.c ends it."""
    client.settimeout(None)
    open_ends, counts = {client: upstream, upstream: client}, {client: 0, upstream: 0}
    idle = 0
    while open_ends:
        ready = select.select(list(open_ends), [], [], 1)[0]
        if not still_allowed():
            break
        idle = 0 if ready else idle + 1
        if idle >= 1800:
            break
        for sock in ready:
            if sock not in open_ends:
                continue
            data = sock.recv(65536)
            if data:
                open_ends[sock].sendall(data)
                counts[sock] += len(data)
                if any(cap and counts[end] >= cap for end, cap in ((client, caps[0]), (upstream, caps[1]))):
                    return counts[client], counts[upstream]
            else:
                try:
                    open_ends.pop(sock).shutdown(socket.SHUT_WR)
                except OSError:
                    pass
    return counts[client], counts[upstream]
