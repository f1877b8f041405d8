#!/usr/bin/python3
"""A live umockdev testbed for the hot-plug tests, driven one command per line on stdin.

Prints `root <dir>` (the UMOCKDEV_DIR for processes started with libumockdev-preload), then
answers each command with `ok` or `error <why>`:
  add <file.umockdev>  adds the file's devices, then sends an `add` uevent for each, parents first,
                       1 ms apart (umockdev's event socket holds only net.unix.max_dgram_qlen = 10
                       datagrams and its sender exits when it is full; the kernel's netlink buffer
                       is far larger)
  remove <sys path>    sends `remove` for the device and all below it, children first, then removes it
The testbed (a temporary directory) goes away when stdin closes.
"""
import os
import sys
import time

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402


def device_paths(text):
    return ["/sys" + line[3:].strip() for line in text.splitlines() if line.startswith("P: ")]


def devices_below(root, syspath):
    """Sysfs paths of the device at syspath and of every device below it (dirs with a uevent file)."""
    found = []
    for directory, _, files in os.walk(root + syspath):
        if "uevent" in files:
            found.append(directory[len(root):])
    return found


testbed = UMockdev.Testbed.new()
root = testbed.get_root_dir()
print("root", root, flush=True)
for line in sys.stdin:
    command, _, argument = line.strip().partition(" ")
    try:
        if command == "add":
            with open(argument) as description:
                text = description.read()
            testbed.add_from_string(text)
            for path in device_paths(text):
                testbed.uevent(path, "add")
                time.sleep(0.001)
        elif command == "remove":
            for path in sorted(devices_below(root, argument), key=len, reverse=True):
                testbed.uevent(path, "remove")
                time.sleep(0.001)
            testbed.remove_device(argument)
        else:
            raise ValueError(f"unknown command {command!r}")
        print("ok", flush=True)
    except Exception as error:  # the test reads the reason instead of a hung pipe
        print("error", str(error).replace("\n", " "), flush=True)
