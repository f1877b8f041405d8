/// The `inet` side's servers, one python3 process: an HTTP what-is-my-IP server (TCP) and a
/// DNS-ish UDP responder, both answering with the client's source address so a test sees which
/// way a request left the farm. Every request's source is appended to a log (`http A` / `udp A`)
/// so a test can also prove an address was *never* seen (no leak through the uplink).
///
/// HTTP paths: `/generate_204` → 204; `/status/NNN` → NNN; `/slow/S` → answers after S seconds;
/// anything else → 200 with the source address. The process exits when its parent (the test
/// process) is gone, so it dies with it even when a test crashes before teardown. (Not on stdin's
/// end of file: other processes the tests spawn inherit that pipe and would keep it open.)
enum LabServers {
    static let script = #"""
import http.server, os, signal, socket, socketserver, sys, threading, time

# The spawning thread's blocked signals are inherited: unblock them so SIGTERM works as usual.
signal.pthread_sigmask(signal.SIG_SETMASK, [])
parent = os.getppid()

address, http_port, udp_port, log_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
log_lock = threading.Lock()

def seen(protocol, source):
    with log_lock, open(log_path, "a") as log:
        log.write(f"{protocol} {source}\n")

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        source = self.client_address[0]
        seen("http", source)
        path = self.path.split("?")[0]
        code, body = 200, (source + "\n").encode()
        if path == "/generate_204":
            code, body = 204, b""
        elif path.startswith("/status/"):
            code, body = int(path[len("/status/"):]), b"status\n"
        elif path.startswith("/slow/"):
            time.sleep(float(path[len("/slow/"):]))
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

def answer_udp(sock):
    while True:
        data, peer = sock.recvfrom(2048)
        seen("udp", peer[0])
        sock.sendto(peer[0].encode(), peer)

httpd = Server((address, http_port), Handler)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((address, udp_port))
threading.Thread(target=httpd.serve_forever, daemon=True).start()
threading.Thread(target=answer_udp, args=(udp,), daemon=True).start()
print("ready", flush=True)
while os.getppid() == parent:
    time.sleep(0.2)
"""#

    /// Sends one datagram to the responder and prints the source address it saw (or exits 1).
    static let udpClient = #"""
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(float(sys.argv[3]))
try:
    sock.sendto(b"who am i", (sys.argv[1], int(sys.argv[2])))
    print(sock.recvfrom(2048)[0].decode())
except OSError as error:
    print(error, file=sys.stderr)
    sys.exit(1)
"""#
}
