/// The lab's "internet" web server, a python3 standard-library script written into the lab
/// directory by `lab up` (so the installed `reconcile` binary needs no resource bundle).
///
/// `GET /` answers with the client's source address as the whole body, which is how a test or
/// the demo sees which modem a request left through; `GET /generate_204` answers 204 for health
/// probes; `GET /bytes/N` answers N bytes (at most 64 MiB), traffic for the byte counters. The script binds first, so a busy port fails `lab up` at once, then detaches (double
/// fork, own session, stdio to the log file, every other inherited descriptor closed) and writes its pid file before the starter exits:
/// when `lab up` returns, the server is listening and its pid is on disk.
enum WhatIsMyIPScript {
    static let fileName = "whatismyip.py"
    static let pidFileName = "whatismyip.pid"
    static let logFileName = "whatismyip.log"

    static let source = #"""
    import http.server
    import os
    import signal
    import socketserver
    import sys


    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/generate_204":
                self.send_response(204)
                self.end_headers()
                return
            if self.path.startswith("/bytes/") and self.path[7:].isdigit() and int(self.path[7:]) <= 64 << 20:
                count = int(self.path[7:])
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(count))
                self.end_headers()
                while count > 0:
                    chunk = min(count, 65536)
                    self.wfile.write(bytes(chunk))
                    count -= chunk
                return
            body = self.client_address[0].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            sys.stderr.write("%s %s\n" % (self.client_address[0], format % args))
            sys.stderr.flush()


    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True


    def main():
        # Swift's Foundation Process passes its blocked signal mask on: unblock, so SIGTERM stops us.
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        address, port, pid_file, log_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
        server = Server((address, port), Handler)
        if os.fork() > 0:
            _, status = os.wait()
            sys.exit(os.waitstatus_to_exitcode(status))
        os.setsid()
        child = os.fork()
        if child > 0:
            temporary = pid_file + ".tmp"
            with open(temporary, "w") as out:
                out.write("%d\n" % child)
                out.flush()
                os.fsync(out.fileno())
            os.rename(temporary, pid_file)
            os._exit(0)
        log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        # Whatever else the starter passed down (Foundation's Process watches a socket for the
        # child's exit) must close, or the starter would wait for this server to end.
        keep = server.fileno()
        os.closerange(3, keep)
        os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
        server.serve_forever()


    main()
    """#
}
