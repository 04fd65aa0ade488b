"""The kernel bridge (COM2, docs/bridge.md) from Python, for end-to-end tests.

QEMU serves COM2 on a Unix socket; Bridge connects to it, sends requests and
collects reply lines on a reader thread, matching replies by id.

    with Qemu.boot(kernel, accel, "auton.bridge=1", extra=bridge_args(sock)) as vm:
        br = Bridge(sock)
        br.wait_event("ready")
        reply = br.call("slm.query", {"prompt": "PCI device 8086:10d3 is"})
"""
import itertools
import json
import queue
import socket
import threading
import time


def bridge_args(sock_path):
    """QEMU arguments that put COM2 on a Unix socket server at sock_path. QEMU
    waits for the client before it starts the guest (wait=on), so nothing the
    kernel writes to COM2 - the ready event - is lost: connect right after
    starting QEMU."""
    return ["-chardev", "socket,id=bridge,path=%s,server=on,wait=on" % sock_path,
            "-serial", "chardev:bridge"]


class Bridge:
    def __init__(self, path, connect_timeout=30):
        deadline = time.time() + connect_timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.lines = queue.Queue()
        self.ids = itertools.count(1)
        self.pending = []  # replies/events read but not yet claimed
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                self.lines.put(None)
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.lines.put(line)

    def send_raw(self, data):
        self.sock.sendall(data)

    def next_message(self, timeout=30):
        """The next line from the kernel, parsed (raises on timeout/close)."""
        line = self.lines.get(timeout=timeout)
        if line is None:
            raise EOFError("bridge closed")
        return json.loads(line)

    def _wait(self, pred, timeout):
        deadline = time.time() + timeout
        for i, m in enumerate(self.pending):
            if pred(m):
                return self.pending.pop(i)
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no matching bridge message in %.0f s" % timeout)
            m = self.next_message(left)
            if pred(m):
                return m
            self.pending.append(m)

    def wait_event(self, name, timeout=60):
        return self._wait(lambda m: m.get("event") == name, timeout)

    def wait_reply(self, rid, timeout=60):
        return self._wait(lambda m: "event" not in m and m.get("id") == rid, timeout)

    def send(self, op, args=None, **extra):
        rid = str(next(self.ids))
        msg = {"v": 1, "id": rid, "op": op}
        if args is not None:
            msg["args"] = args
        msg.update(extra)
        self.send_raw((json.dumps(msg) + "\n").encode())
        return rid

    def call(self, op, args=None, timeout=60, **extra):
        return self.wait_reply(self.send(op, args, **extra), timeout)

    def close(self):
        self.sock.close()
