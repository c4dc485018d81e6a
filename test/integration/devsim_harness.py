"""Helpers for tests that run holdfast-devsim: the process with its JSON lines parsed as they
arrive, the sequence number heading its payloads, XTEA decryption (as devsim and the Holdfast
tools encrypt), and the test programs' binary arguments. Kept apart from harness.py, which
runs holdfastd and the MQTT clients.

Run with /usr/bin/python3.
"""
import argparse
import base64
import json
import os
import signal
import struct
import subprocess
import sys
import threading
from typing import Callable

from harness import CLIENT_TIMEOUT

# The identities the devsim tests use: an IoT Hub host, IOTHUB.md's test key, a second key, and
# a TEA key for the payloads.
HOST = "myhub.azure-devices.net"
KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
OTHER_KEY = base64.b64encode(bytes(range(32, 64))).decode()
TEA_KEY = "00112233445566778899aabbccddeeff"


class Devsim:
    """A holdfast-devsim process; its JSON lines (stdout, with stderr's other lines kept apart)
    are parsed as they arrive. `sent` are the messages it reported sending, `c2d` the
    cloud-to-device messages it printed, `summary` its last line once it has exited."""

    def __init__(self, binary: str, args: list):
        self.args = [binary] + [str(a) for a in args]
        self.lines: list[dict] = []
        self.other: list[str] = []  # stderr and anything that is not JSON
        self.cond = threading.Condition()
        self.done = False
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            text = raw.decode(errors="replace").rstrip("\n")
            with self.cond:
                try:
                    self.lines.append(json.loads(text))
                except ValueError:
                    self.other.append(text)
                self.cond.notify_all()
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def wait_line(self, predicate: Callable[[dict], bool], timeout: float, what: str) -> dict:
        """The first line satisfying `predicate`, waiting for it."""
        with self.cond:
            self.cond.wait_for(lambda: self.done or any(predicate(x) for x in self.lines),
                               timeout)
            for x in self.lines:
                if predicate(x):
                    return x
        raise AssertionError(f"devsim: no {what} within {timeout:.0f}s; {self.describe()}")

    def wait(self, timeout: float = 120.0) -> int:
        """Until it exits and its output is read; its exit status."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"devsim did not finish within {timeout:.0f}s; "
                                 f"{self.describe()}")
        self._reader.join(timeout=CLIENT_TIMEOUT)
        self.proc.stdout.close()
        return rc

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM (devsim stops sending, closes and prints its summary); its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait(CLIENT_TIMEOUT)

    @property
    def sent(self) -> list[dict]:
        with self.cond:
            return [x for x in self.lines if "seq" in x and "sha256" in x and "c2d_topic" not in x]

    @property
    def c2d(self) -> list[dict]:
        with self.cond:
            return [x for x in self.lines if "c2d_topic" in x]

    @property
    def summary(self) -> dict:
        with self.cond:
            last = self.lines[-1] if self.lines else {}
            return last if "sent" in last and "seq" not in last else {}

    def describe(self) -> str:
        with self.cond:
            return (f"command {' '.join(self.args)}; last lines {self.lines[-3:]}; "
                    f"other output {self.other[-10:]}")

    def sent_by_device(self) -> dict[str, list[dict]]:
        """The sent messages of each device, in sequence order."""
        out: dict[str, list[dict]] = {}
        for x in self.sent:
            out.setdefault(x["device"], []).append(x)
        for lines in out.values():
            lines.sort(key=lambda x: x["seq"])
        return out


def run_devsim(binary: str, args: list, timeout: float = 120.0) -> tuple[int, Devsim]:
    """Runs holdfast-devsim to its end: (exit status, the finished Devsim)."""
    d = Devsim(binary, args)
    return d.wait(timeout), d


def devsim_seq(plain: bytes) -> int:
    """The sequence number heading a devsim payload (8 bytes, big-endian)."""
    return struct.unpack(">Q", plain[:8])[0]


def xtea_decrypt(data: bytes, key_hex: str, classic: bool = False) -> bytes:
    """XTEA (or, `classic`, TEA): 32 cycles, big-endian words, ECB, as devsim and the Holdfast
    tools use them; the zero padding stays."""
    assert len(data) % 8 == 0, f"a TEA ciphertext is whole 8-byte blocks, got {len(data)}"
    k = struct.unpack(">4I", bytes.fromhex(key_hex))
    mask, delta = 0xFFFFFFFF, 0x9E3779B9
    out = b""
    for i in range(0, len(data), 8):
        v0, v1 = struct.unpack(">2I", data[i:i + 8])
        s = (delta * 32) & mask
        for _ in range(32):
            if classic:
                v1 = (v1 - ((((v0 << 4) + k[2]) ^ (v0 + s) ^ ((v0 >> 5) + k[3])) & mask)) & mask
                v0 = (v0 - ((((v1 << 4) + k[0]) ^ (v1 + s) ^ ((v1 >> 5) + k[1])) & mask)) & mask
                s = (s - delta) & mask
                continue
            v1 = (v1 - ((((v0 << 4) ^ (v0 >> 5)) + v0) ^ (s + k[(s >> 11) & 3]))) & mask
            s = (s - delta) & mask
            v0 = (v0 - ((((v1 << 4) ^ (v1 >> 5)) + v1) ^ (s + k[s & 3]))) & mask
        out += struct.pack(">2I", v0, v1)
    return out


def parse_binaries(doc: str, *names: str) -> tuple[dict, list]:
    """A test program's command line: a required --NAME PATH per binary in `names` (its
    description: the first line of `doc`). Returns ({NAME: absolute path}, the arguments left
    for unittest, program name first)."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    for name in names:
        parser.add_argument(f"--{name}", required=True, help=f"path of the {name} binary")
    args, rest = parser.parse_known_args()
    return {n: os.path.abspath(getattr(args, n)) for n in names}, [sys.argv[0]] + rest
