#!/usr/bin/python3
"""A live umockdev testbed for the hot-plug tests, driven one command per line on stdin.

Prints `root <dir>` (the UMOCKDEV_DIR for processes started with libumockdev-preload), then
answers each command with `ok` or `error <why>`:
  add <file.umockdev>  adds the file's devices one by one, parents first (umockdev sends the `add`
                       uevent of each)
  remove <sys path>    sends `remove` for the device and all below it, children first, then removes it
The testbed (a temporary directory) goes away on `quit` or when stdin closes.

Events go out as fast as the listeners take them, but never more than a few ahead: umockdev's
event sockets hold only net.unix.max_dgram_qlen (10) datagrams and its sender exits when one is
full, where the kernel's netlink buffer would hold thousands.
"""
import os
import signal
import socket
import struct
import sys
import time

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402


def device_blocks(text):
    """The description of each device in a umockdev file (each starts with its `P:` line)."""
    blocks = []
    for line in text.splitlines(keepends=True):
        if line.startswith("P: "):
            blocks.append("")
        if blocks:
            blocks[-1] += line
    return blocks


def devices_below(root, syspath):
    """Sysfs paths of the device at syspath and of every device below it (dirs with a uevent file)."""
    found = []
    for directory, _, files in os.walk(root + syspath):
        if "uevent" in files:
            found.append(directory[len(root):])
    return found


AHEAD = 8  # events sent before waiting for the listeners to drain: below the queue limit of 10
NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, NLMSG_DONE, NLMSG_ERROR = 4, 20, 3, 2
UDIAG_SHOW_NAME, UDIAG_SHOW_RQLEN, UDIAG_NAME, UDIAG_RQLEN = 0x01, 0x10, 0, 4


def listeners_busy(prefix):
    """Whether any unix socket bound under prefix has datagrams queued (sock_diag dump)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as diag:
        request = struct.pack("=BBHIIIII", socket.AF_UNIX, 0, 0, 0xFFFFFFFF, 0,
                              UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN, 0xFFFFFFFF, 0xFFFFFFFF)
        diag.send(struct.pack("=IHHII", 16 + len(request), SOCK_DIAG_BY_FAMILY, 0x301, 1, 0) + request)
        busy = False
        while True:
            data = diag.recv(65536)
            offset = 0
            while offset < len(data):
                length, kind = struct.unpack_from("=IH", data, offset)
                if kind in (NLMSG_DONE, NLMSG_ERROR):
                    return busy
                name, queued = None, 0
                attribute = offset + 16 + 16  # netlink header, unix_diag_msg
                while attribute < offset + length:
                    size, kind = struct.unpack_from("=HH", data, attribute)
                    value = data[attribute + 4:attribute + size]
                    if kind == UDIAG_NAME:
                        name = value.rstrip(b"\0").decode(errors="replace")
                    elif kind == UDIAG_RQLEN:
                        queued = struct.unpack_from("=I", value)[0]
                    attribute += (size + 3) & ~3
                busy = busy or (queued > 0 and name is not None and name.startswith(prefix))
                offset += (length + 3) & ~3


def paced(items):
    """Yields the items, waiting for the listeners to drain before every AHEAD-th one."""
    for index, item in enumerate(items):
        if index % AHEAD == 0:
            deadline = time.monotonic() + 10
            while listeners_busy(root + "/event") and time.monotonic() < deadline:
                time.sleep(0.001)
        yield item


def serve(commands):
    for line in commands:
        command, _, argument = line.strip().partition(" ")
        try:
            if command == "add":
                with open(argument) as description:
                    text = description.read()
                for block in paced(device_blocks(text)):
                    testbed.add_from_string(block)
            elif command == "quit":
                return
            elif command == "remove":
                for path in paced(sorted(devices_below(root, argument), key=len, reverse=True)):
                    testbed.uevent(path, "remove")
                testbed.remove_device(argument)
            else:
                raise ValueError(f"unknown command {command!r}")
            print("ok", flush=True)
        except Exception as error:  # the test reads the reason instead of a hung pipe
            print("error", str(error).replace("\n", " "), flush=True)


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # exit normally: the testbed deletes its directory
# A parent that spawned us from a thread with SIGTERM blocked passed that mask on: take it back.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
testbed = UMockdev.Testbed.new()
root = testbed.get_root_dir()
print("root", root, flush=True)
serve(sys.stdin)
