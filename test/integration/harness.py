"""Integration-test harness: runs the real holdfastd and drives it with clients nobody here wrote.

What it provides
  Holdfastd      starts holdfastd on free ports with a generated TOML config in a fresh directory
                 ([store], one MQTT [[listener]], [admin], [log]), waits for GET /readyz == 200,
                 stops it with SIGTERM (returning the exit status), kill -9, restart on the same
                 store, and reads the admin API (queues, peek with base64 payloads, metrics,
                 connections).
  mosquitto_pub  one publish with the Debian mosquitto_pub; binary payloads go through stdin.
  MosquittoSub   a mosquitto_sub process whose messages (topic, hex payload, QoS, retain) are
                 parsed as they arrive; wait_subscribed() waits for its SUBACK.
  PahoClient     a paho-mqtt 1.6 client (MQTT 3.1.1 or 5) running its own network thread, with
                 events for CONNACK, SUBACK, UNSUBACK, disconnect and received messages.
  RawClient      a TCP socket speaking hand-made MQTT bytes, for malformed input.
  payload(), sha() sequence-numbered random binary payloads (always containing NUL bytes).

Waiting: never a fixed sleep. Everything waits for an event (a condition variable, a process
exit, a socket EOF) with a deadline, or polls a state through the admin API with a deadline.
Deadlines are generous: the machine is a shared, loaded 2-core box.

Run with /usr/bin/python3 (Debian's, which has python3-paho-mqtt).
"""

import base64
import hashlib
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Optional

import paho.mqtt.client as paho  # noqa: F401  (tests import it from here)

LOCALHOST = "127.0.0.1"

# Deadlines (seconds). Generous on purpose: they bound a hang, they do not measure speed.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
EVENT_TIMEOUT = 15.0
CLIENT_TIMEOUT = 30.0

SEED = int(os.environ.get("HOLDFAST_IT_SEED", str(random.randrange(2**32))))


# ---- small utilities ---------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Distinct TCP ports that were free a moment ago (bound to port 0, then released)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOCALHOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.02):
    """Polls `predicate` until it returns something truthy, which is returned. Raises
    AssertionError naming `what` once `timeout` seconds have passed. For state that can only be
    observed by asking (the admin API); messages and socket events have real events instead."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        pause.wait(interval)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload(rng: random.Random, seq: int, size: int) -> bytes:
    """A payload carrying its sequence number: 4 bytes big-endian seq, a NUL, `size` random
    bytes (so every payload contains at least one NUL)."""
    return struct.pack(">I", seq) + b"\x00" + rng.randbytes(size)


def seq_of(data: bytes) -> int:
    return struct.unpack(">I", data[:4])[0]


# ---- holdfastd ---------------------------------------------------------------------------------


class BrokerError(AssertionError):
    pass


@dataclass
class Metric:
    name: str
    labels: dict
    value: float


class Holdfastd:
    """One holdfastd process (and its successors after restart()) on one store directory."""

    def __init__(self, binary: str, workdir: str, max_packet_bytes: str = "512KiB",
                 log_level: str = "debug", sync: str = "fsync", extra_config: str = "",
                 amqp: bool = False, amqp_listener_config: str = "",
                 coap: bool = False, coap_listener_config: str = "",
                 mqtt_tls_config: str = ""):
        self.extra_config = extra_config  # appended to the generated TOML
        self.amqp = amqp  # also an AMQP [[listener]] on amqp_port
        self.amqp_listener_config = amqp_listener_config  # extra keys of that listener
        self.coap = coap  # also a CoAP [[listener]] (UDP) on coap_port
        self.coap_listener_config = coap_listener_config  # extra keys of that listener
        # Non-empty: also an MQTT TLS [[listener]] on mqtt_tls_port with these keys (cert_file...)
        self.mqtt_tls_config = mqtt_tls_config
        self.mqtt_tls_port: Optional[int] = None
        self.binary = binary
        self.workdir = workdir
        self.max_packet_bytes = max_packet_bytes
        self.log_level = log_level
        self.sync = sync
        self.store_path = os.path.join(workdir, "store")
        self.config_path = os.path.join(workdir, "holdfastd.toml")
        self.log_path = os.path.join(workdir, "holdfastd.log")
        self.stderr_path = os.path.join(workdir, "holdfastd.stderr")
        self.mqtt_port: Optional[int] = None
        self.admin_port: Optional[int] = None
        self.amqp_port: Optional[int] = None
        self.coap_port: Optional[int] = None
        self.upstream_port: Optional[int] = None  # where the default upstream points: nothing
        self.proc: Optional[subprocess.Popen] = None
        self.expected_exit = False  # set by stop() and kill(): an exit is then no crash
        # Bypass any http_proxy from the environment: the admin endpoint is local.
        self._http = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- lifecycle --

    def write_config(self):
        config = f"""# Generated by test/integration/harness.py
[store]
path = "store"
sync = "{self.sync}"
min_free_disk_bytes = "1MiB"

[[listener]]
protocol = "mqtt"
bind = "{LOCALHOST}"
port = {self.mqtt_port}
max_packet_bytes = "{self.max_packet_bytes}"
{self._mqtt_tls_listener()}{self._amqp_listener()}{self._coap_listener()}
[admin]
bind = "{LOCALHOST}"
port = {self.admin_port}

[log]
level = "{self.log_level}"
file = "holdfastd.log"
repeat_interval = "0s"
""" + self.extra_config
        if "[[upstream]]" not in self.extra_config:
            # The default upstream is an emulator on 127.0.0.1:5671: one may run there (tools/
            # run.sh), and a test must not forward to it. This port had nothing listening.
            config += f"""
[[upstream]]
name = "hub"
kind = "emulator"
host = "127.0.0.1"
port = {self.upstream_port}
"""
        with open(self.config_path, "w") as f:
            f.write(config)

    def _mqtt_tls_listener(self) -> str:
        if not self.mqtt_tls_config:
            return ""
        return f"""
[[listener]]
protocol = "mqtt"
bind = "{LOCALHOST}"
port = {self.mqtt_tls_port}
tls = true
{self.mqtt_tls_config}
"""

    def _amqp_listener(self) -> str:
        if not self.amqp:
            return ""
        return f"""
[[listener]]
protocol = "amqp"
bind = "{LOCALHOST}"
port = {self.amqp_port}
max_packet_bytes = "{self.max_packet_bytes}"
{self.amqp_listener_config}
"""

    def _coap_listener(self) -> str:
        if not self.coap:
            return ""
        return f"""
[[listener]]
protocol = "coap"
bind = "{LOCALHOST}"
port = {self.coap_port}
max_packet_bytes = "{self.max_packet_bytes}"
{self.coap_listener_config}
"""

    @property
    def coap_url(self) -> str:
        return f"coap://{LOCALHOST}:{self.coap_port}"

    @property
    def amqp_url(self) -> str:
        return f"amqp://{LOCALHOST}:{self.amqp_port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = START_TIMEOUT, new_ports: bool = False):
        """Starts holdfastd (same store and, unless `new_ports`, the same ports as last time)
        and waits until /readyz answers 200. Retries with fresh ports if one was taken
        meanwhile."""
        assert not self.running, "holdfastd is already running"
        self.expected_exit = False
        for attempt in range(3):
            if self.mqtt_port is None or new_ports or attempt > 0:
                (self.mqtt_port, self.admin_port, self.amqp_port, self.coap_port,
                 self.upstream_port, self.mqtt_tls_port) = free_ports(6)
            self.write_config()
            with open(self.stderr_path, "ab") as err:
                self.proc = subprocess.Popen(
                    [self.binary, "--config", self.config_path], cwd=self.workdir,
                    stdin=subprocess.DEVNULL, stdout=err, stderr=err)
            try:
                self.wait_ready(timeout)
                return
            except BrokerError:
                stderr = self.stderr_text()
                if not self.running and ("cannot listen" in stderr or "in use" in stderr) \
                        and attempt < 2:
                    continue  # a port was taken between free_ports() and bind(): new ports
                raise

    def wait_ready(self, timeout: float = START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BrokerError(f"holdfastd exited with status {self.proc.returncode} while "
                                  f"starting:\n{self.diagnostics()}")
            try:
                status, _ = self.http_get("/readyz", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass  # not listening yet
            if time.monotonic() >= deadline:
                raise BrokerError(f"holdfastd not ready after {timeout:.0f}s:\n"
                                  f"{self.diagnostics()}")
            try:
                self.proc.wait(timeout=0.05)  # wakes at once if it dies
            except subprocess.TimeoutExpired:
                pass

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM; returns the exit status. A hang is an error (the process is then killed)."""
        assert self.proc is not None
        self.expected_exit = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise BrokerError(f"holdfastd did not exit within {timeout:.0f}s of SIGTERM:\n"
                              f"{self.diagnostics()}")

    def kill(self):
        """kill -9, and reap it."""
        assert self.proc is not None
        self.expected_exit = True
        self.proc.kill()
        self.proc.wait(timeout=STOP_TIMEOUT)

    def restart(self, timeout: float = START_TIMEOUT):
        """Starts again on the same store (after stop() or kill())."""
        assert not self.running
        self.start(timeout)

    # -- diagnostics --

    def log_text(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stderr_text(self) -> str:
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def diagnostics(self, lines: int = 60) -> str:
        log = self.log_text().splitlines()[-lines:]
        err = self.stderr_text().splitlines()[-20:]
        return ("--- holdfastd log (last lines) ---\n" + "\n".join(log) +
                "\n--- holdfastd stderr ---\n" + "\n".join(err))

    # -- admin API --

    def http_get(self, path: str, timeout: float = 10) -> tuple[int, bytes]:
        url = f"http://{LOCALHOST}:{self.admin_port}{path}"
        try:
            with self._http.open(url, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get_json(self, path: str):
        status, body = self.http_get(path)
        if status != 200:
            raise BrokerError(f"GET {path}: HTTP {status}: {body[:500]!r}")
        return json.loads(body)

    def queues(self) -> list[dict]:
        return self.get_json("/api/queues")

    def message_queues(self) -> list[dict]:
        """The queues of routed messages: without the broker's internal '$...' queues (the
        MQTT listener keeps retained messages and sessions in '$mqtt/...')."""
        return [q for q in self.queues() if not q["name"].startswith("$")]

    def queue(self, name: str) -> Optional[dict]:
        for q in self.queues():
            if q["name"] == name:
                return q
        return None

    def depth(self, name: str) -> int:
        q = self.queue(name)
        return 0 if q is None else q["depth"]

    def peek(self, name: str, from_seq: Optional[int] = None,
             max_messages: Optional[int] = None) -> tuple[int, Any]:
        query = {}
        if from_seq is not None:
            query["from"] = from_seq
        if max_messages is not None:
            query["max"] = max_messages
        path = "/api/queues/" + urllib.parse.quote(name, safe="/") + "/messages"
        if query:
            path += "?" + urllib.parse.urlencode(query)
        status, body = self.http_get(path)
        return status, json.loads(body)

    def peek_all(self, name: str, page: int = 500, missing_ok: bool = False) -> list[dict]:
        """Every stored message of queue `name`, in order; each gets a decoded 'payload'.
        With missing_ok, a queue that does not exist (yet) is empty instead of an error."""
        out = []
        next_seq = None
        while True:
            status, body = self.peek(name, next_seq, page)
            if status == 404 and missing_ok and not out:
                return out
            if status != 200:
                raise BrokerError(f"peek {name}: HTTP {status}: {body}")
            for m in body["messages"]:
                m["payload"] = base64.b64decode(m["payload_base64"])
                out.append(m)
            if not body["messages"]:
                return out
            next_seq = body["next"]

    def metrics(self) -> list[Metric]:
        status, body = self.http_get("/metrics")
        if status != 200:
            raise BrokerError(f"GET /metrics: HTTP {status}")
        out = []
        for line in body.decode().splitlines():
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$", line)
            if not m:
                raise BrokerError(f"unparsable metrics line: {line!r}")
            labels = dict(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                     m.group(2) or ""))
            out.append(Metric(m.group(1), labels, float(m.group(3))))
        return out

    def metric(self, name: str, **labels) -> Optional[float]:
        for m in self.metrics():
            if m.name == name and all(m.labels.get(k) == v for k, v in labels.items()):
                return m.value
        return None

    def connections(self) -> list[dict]:
        return self.get_json("/api/connections")

    def client_ids(self) -> list[str]:
        return [c["client_id"] for c in self.connections()]

    def wait_client_gone(self, client_id: str, timeout: float = EVENT_TIMEOUT):
        """Until the broker no longer lists `client_id` (it has processed the close)."""
        wait_until(lambda: client_id not in self.client_ids(), timeout,
                   f"client {client_id!r} to leave /api/connections")

    def wait_client_present(self, client_id: str, timeout: float = EVENT_TIMEOUT):
        wait_until(lambda: client_id in self.client_ids(), timeout,
                   f"client {client_id!r} in /api/connections")


# ---- certificates ------------------------------------------------------------------------------


def make_test_pki(directory: str, clients: tuple = ()) -> dict:
    """A CA, a server certificate for localhost / 127.0.0.1 and one client certificate per name
    in `clients` (CN = the name), made with openssl(1) in `directory`. Returns the file paths:
    ca, server_cert, server_key, and client_cert/client_key dicts by name."""
    def run(*args):
        subprocess.run(args, cwd=directory, check=True, capture_output=True)

    def issue(name: str, subject: str, ext: str = ""):
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
            "-keyout", f"{name}.key", "-out", f"{name}.csr")
        extra = []
        if ext:
            with open(os.path.join(directory, f"{name}.cnf"), "w") as f:
                f.write(ext)
            extra = ["-extfile", f"{name}.cnf"]
        run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", *extra)

    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=holdfast test CA", "-keyout", "ca.key", "-out", "ca.pem")
    issue("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for c in clients:
        issue(f"client-{c}", f"/CN={c}")
    path = lambda name: os.path.join(directory, name)
    return {"ca": path("ca.pem"), "server_cert": path("server.pem"),
            "server_key": path("server.key"),
            "client_cert": {c: path(f"client-{c}.pem") for c in clients},
            "client_key": {c: path(f"client-{c}.key") for c in clients}}


# ---- MQTT clients (mqtt_clients.py) ------------------------------------------------------------
# Defined there to keep files small; imported here last, so that tests import everything from
# harness and mqtt_clients finds the constants above already defined.
from mqtt_clients import (  # noqa: E402,F401
    CONNACK_ACCEPTED, Inbox, MosquittoSub, PahoClient, RawClient, Received, connect_packet,
    mosquitto_pub, mqtt_str, packet, publish_packet, remaining_length, subscribe_packet,
    v5_properties, wait_published)
