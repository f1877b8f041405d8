"""3proxy 1.0's traffic accounting for the stand-in: `counter FILE` and `countin`/`countout`/`countall`.

What 3proxy does, read in its source and checked against the real binary (docs/farm-yaml.md, Quotas):
- `counter FILE` (conf.c h_counter) opens FILE read-write, creating it; a file that does not start with
  "3CF\\0" is refused ("Not a counter file"). The header's time is kept.
- `countin N TYPE MB ace…` (conf.c h_ace): rule number N (its record in the file), TYPE's first
  letter C/H/D/W/M/Y rotates the count each minute/hour/day/week/month/year, anything else never;
  the limit is MB × 1048576 bytes and 0 is an error. A rule with a number reads its record at once.
- A session is let in or refused after it connected (auth.c alwaysauth): every matching rule whose
  count reached its limit refuses it (code 10: HTTP 503 "You have exceeded your limits", SOCKS5
  reply 2); otherwise the last matching rule sets how much it may still receive (countin, countall)
  and send (countout, countall). HTTP refuses a request body or a response whose Content-Length
  would pass that (proxy.c), and any session is cut once it passed it (sockmap.c).
- A session's bytes are added when it is logged, at its end (limiter.c trafcountfunc): from the
  server to countin and countall, from the client to countout and countall.
- The file is written when the minute changed since its last write — also on the way out after
  SIGTERM, so a stop in the minute of the last write loses that minute — and at a reload before the
  new config is read (3proxy.c cyclestep, dumpcounters; conf.c freeconf). After writing a record,
  a count whose period changed since it was cleared starts again from 0 (3proxy.c timechanged, in
  local time; weeks start on Sunday).
"""
import os, struct, threading, time

HEADER = struct.Struct("<4s4xq")  # struct counter_header: sig[4], time_t updated (64-bit Linux)
RECORD = struct.Struct("<Qqq")    # struct counter_record: traf64, cleared, updated
SIGNATURE = b"3CF\0"
MAX_COUNTER_TIME = 0x793406fff    # proxy.h, for an 8-byte time_t
NONE, MINUTELY, HOURLY, DAILY, WEEKLY, MONTHLY, ANNUALLY, NEVER = range(8)
ROTATIONS = {"c": MINUTELY, "h": HOURLY, "d": DAILY, "w": WEEKLY, "m": MONTHLY, "y": ANNUALLY}


class CounterError(Exception):
    """3proxy's stderr line and the code readconfig reports."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


def time_changed(old, new, rotation) -> bool:
    """3proxy.c timechanged."""
    before, now = time.localtime(old), time.localtime(new)
    if rotation == MINUTELY:
        return now.tm_min != before.tm_min
    if rotation == HOURLY:
        return now.tm_hour != before.tm_hour
    if rotation == DAILY:
        return now.tm_yday != before.tm_yday
    if rotation == MONTHLY:
        return now.tm_mon != before.tm_mon
    if rotation == ANNUALLY:
        return now.tm_year != before.tm_year
    if rotation == WEEKLY:
        old_day, new_day = (before.tm_wday + 1) % 7, (now.tm_wday + 1) % 7  # C counts from Sunday
        return new - old > 7 * 86400 or new_day < old_day or (new_day == old_day and new - old > 6 * 86400)
    return False


class Rule:
    """One countin/countout/countall line."""

    def __init__(self, action, args, make_ace):
        number, rotation, limit = args[0], args[1], args[2]
        digits = number[:len(number) - len(number.lstrip("0123456789"))]  # sscanf("%u"): "3/name" is 3
        self.action, self.number = action, int(digits or 0)
        self.rotation = ROTATIONS.get(rotation[:1].lower(), NEVER)
        self.limit = int(limit) * 1048576
        if self.limit == 0:
            raise CounterError("Wrong traffic limit specified", 6)
        self.ace = make_ace(args[3:])
        self.bytes, self.cleared, self.updated = 0, 0, 0


class Counters:
    """The global counter state (conf.counterd, conf.trafcounter, cheader)."""

    def __init__(self):
        self.fd, self.rules, self.header_updated = -1, [], 0
        self.lock = threading.Lock()

    def open(self, path, line):
        if self.fd >= 0:
            os.close(self.fd)
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o660)
        except OSError:
            self.fd = -1
            raise CounterError(f"Unable to open counter file {path}, line {line}", 1)
        header = os.pread(self.fd, HEADER.size, 0)
        if len(header) == HEADER.size:
            signature, updated = HEADER.unpack(header)
            if signature != SIGNATURE:
                raise CounterError(f"Not a counter file {path}, line {line}", 2)
            if not 0 <= updated < MAX_COUNTER_TIME:
                raise CounterError(f"Invalid or corrupted counter file {path}. Use countersutil utility to convert from older version", 3)
            self.header_updated = updated

    def add(self, rule):
        if rule.number and self.fd >= 0:
            data = os.pread(self.fd, RECORD.size, HEADER.size + (rule.number - 1) * RECORD.size)
            if len(data) == RECORD.size:
                rule.bytes, rule.cleared, rule.updated = RECORD.unpack(data)
                if not (0 <= rule.cleared < MAX_COUNTER_TIME and 0 <= rule.updated < MAX_COUNTER_TIME):
                    raise CounterError("Invalid, incompatible or corrupted counter file.", 6)
        with self.lock:
            self.rules.append(rule)

    def admit(self, user, client, target, port):
        """auth.c alwaysauth: None when refused, else the bytes the session may receive and send (0 = no cap)."""
        with self.lock:
            allowed = {"in": 0, "out": 0}
            for direction, actions in (("in", ("countin", "countall")), ("out", ("countout", "countall"))):
                for rule in self.rules:
                    if rule.action in actions and rule.ace.matches(user, client, target, port):
                        if rule.limit <= rule.bytes:
                            return None
                        allowed[direction] = rule.limit - rule.bytes
            return allowed

    def count(self, user, client, target, port, received, sent):
        """limiter.c trafcountfunc, at the session's end."""
        now = int(time.time())
        with self.lock:
            for rule in self.rules:
                if rule.ace.matches(user, client, target, port):
                    rule.bytes += {"countin": received, "countout": sent, "countall": received + sent}[rule.action]
                    rule.updated = now

    def tick(self):
        """3proxy.c cyclestep: once the minute changed since the last write, write again."""
        if self.fd >= 0 and self.rules and time_changed(self.header_updated, time.time(), MINUTELY):
            self.dump()

    def dump(self):
        """3proxy.c dumpcounters: the header, each numbered record, then the counts whose period ended restart."""
        now = int(time.time())
        with self.lock:
            self.header_updated = now
            os.pwrite(self.fd, HEADER.pack(SIGNATURE, now), 0)
            for rule in self.rules:
                if rule.number:
                    os.pwrite(self.fd, RECORD.pack(rule.bytes, rule.cleared, rule.updated),
                              HEADER.size + (rule.number - 1) * RECORD.size)
                if rule.rotation != NEVER and time_changed(rule.cleared, now, rule.rotation):
                    rule.cleared, rule.bytes = now, 0

    def release(self):
        """conf.c freeconf at a reload: write the old rules' counts, then forget them and the file."""
        if self.fd >= 0 and self.rules:
            self.dump()
        if self.fd >= 0:
            os.close(self.fd)
        self.fd, self.rules = -1, []
