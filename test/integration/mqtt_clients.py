"""MQTT clients for the integration tests, re-exported by harness (import them from there):
received messages and their Inbox, mosquitto_pub / MosquittoSub (Debian's mosquitto-clients),
PahoClient (python3-paho-mqtt 1.6, MQTT 3.1.1 and 5), and hand-made MQTT bytes (RawClient) for
malformed input. Waiting is always on an event with a deadline, never a fixed sleep.
"""

import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import paho.mqtt.client as paho
from paho.mqtt.properties import Properties

from harness import CLIENT_TIMEOUT, EVENT_TIMEOUT, LOCALHOST, sha

# ---- received messages -------------------------------------------------------------------------


@dataclass
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool = False
    properties: Any = None  # paho Properties (MQTT 5) or None

    def __repr__(self):
        return (f"Received({self.topic!r}, {len(self.payload)}B sha={sha(self.payload)[:12]}, "
                f"qos={self.qos}, retain={int(self.retain)})")


class Inbox:
    """Messages received by one client, in arrival order, with waits."""

    def __init__(self, name: str):
        self.name = name
        self.messages: list[Received] = []
        self.cond = threading.Condition()
        self.closed_reason: Optional[str] = None  # set when the client can receive no more

    def add(self, m: Received):
        with self.cond:
            self.messages.append(m)
            self.cond.notify_all()

    def close(self, reason: str):
        with self.cond:
            self.closed_reason = reason
            self.cond.notify_all()

    def snapshot(self) -> list[Received]:
        with self.cond:
            return list(self.messages)

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float,
                 what: str) -> list[Received]:
        with self.cond:
            ok = self.cond.wait_for(
                lambda: predicate(self.messages) or self.closed_reason is not None, timeout)
            if ok and predicate(self.messages):
                return list(self.messages)
            why = (f"{self.name} stopped: {self.closed_reason}" if self.closed_reason
                   else f"timed out after {timeout:.0f}s")
            raise AssertionError(f"{self.name}: waiting for {what}: {why}; received so far "
                                 f"({len(self.messages)}): {self.messages[-10:]}")

    def wait_count(self, n: int, timeout: float = EVENT_TIMEOUT) -> list[Received]:
        return self.wait_for(lambda ms: len(ms) >= n, timeout, f"{n} messages")

    def wait_topic(self, topic: str, timeout: float = EVENT_TIMEOUT) -> list[Received]:
        """Until a message on `topic` arrived; returns everything received so far."""
        return self.wait_for(lambda ms: any(m.topic == topic for m in ms), timeout,
                             f"a message on {topic!r}")


# ---- mosquitto clients -------------------------------------------------------------------------


def mosquitto_pub(port: int, topic: str, data: Optional[bytes], qos: int = 0,
                  retain: bool = False, client_id: Optional[str] = None,
                  extra: tuple = (), timeout: float = CLIENT_TIMEOUT) -> str:
    """Publishes one message with mosquitto_pub and returns its debug output. `data` None or
    empty sends a zero-length payload (-n). For QoS 1/2 checks that the acknowledgement
    (PUBACK, PUBCOMP) arrived: mosquitto_pub exits 0 only after it."""
    args = ["mosquitto_pub", "-h", LOCALHOST, "-p", str(port), "-t", topic, "-q", str(qos),
            "-d", "-V", "mqttv311"]
    if client_id:
        args += ["-i", client_id]
    if retain:
        args.append("-r")
    args += list(extra)
    if data:
        args.append("-s")  # the whole of stdin is the payload, byte for byte
    else:
        args.append("-n")
    r = subprocess.run(args, input=data or b"", capture_output=True, timeout=timeout)
    out = r.stdout.decode(errors="replace")
    if r.returncode != 0:
        raise AssertionError(f"mosquitto_pub {topic} q{qos} failed with status {r.returncode}: "
                             f"{out} {r.stderr.decode(errors='replace')}")
    expected_ack = {1: "received PUBACK", 2: "received PUBCOMP"}.get(qos)
    if expected_ack and expected_ack not in out:
        raise AssertionError(f"mosquitto_pub q{qos}: no '{expected_ack}' in its output:\n{out}")
    return out


class MosquittoSub:
    """A mosquitto_sub process; its messages are parsed into an Inbox as they arrive."""

    _FORMAT = "MSG %q %r %t %x"

    def __init__(self, port: int, filters: list[str], qos: int = 0, client_id: str = "msub",
                 extra: tuple = (), version: str = "mqttv311"):
        # stdbuf: mosquitto_sub's stdout is a pipe, which stdio would otherwise buffer.
        args = ["stdbuf", "-oL", "mosquitto_sub", "-h", LOCALHOST, "-p", str(port),
                "-i", client_id, "-q", str(qos), "-d", "-V", version, "-F", self._FORMAT]
        for f in filters:
            args += ["-t", f]
        args += list(extra)
        self.client_id = client_id
        self.inbox = Inbox(f"mosquitto_sub {client_id}")
        self.lines: list[str] = []
        self.granted: Optional[list[int]] = None
        self._subscribed = threading.Event()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if line.startswith("MSG "):
                parts = line.split(" ", 4)
                hexdata = parts[4] if len(parts) > 4 else ""
                self.inbox.add(Received(parts[3], bytes.fromhex(hexdata), int(parts[1]),
                                        parts[2] == "1"))
            elif line.startswith("Subscribed (mid:"):
                self.granted = [int(q) for q in line.split(":", 2)[2].split(",")]
                self._subscribed.set()
        self.inbox.close(f"mosquitto_sub exited (output: {self.lines[-5:]})")
        self._subscribed.set()

    def wait_subscribed(self, timeout: float = EVENT_TIMEOUT) -> list[int]:
        if not self._subscribed.wait(timeout) or self.granted is None:
            raise AssertionError(f"mosquitto_sub {self.client_id}: no SUBACK within "
                                 f"{timeout:.0f}s; output: {self.lines[-10:]}")
        return self.granted

    def kill(self):
        """SIGKILL: the socket is closed by the kernel, no DISCONNECT is sent."""
        self.proc.kill()
        self.proc.wait(timeout=CLIENT_TIMEOUT)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=CLIENT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=CLIENT_TIMEOUT)
        self.proc.stdout.close()


# ---- paho-mqtt ---------------------------------------------------------------------------------


class PahoClient:
    """A paho-mqtt 1.6 client with its network thread; never reconnects by itself."""

    def __init__(self, port: int, client_id: str, clean_session: bool = True,
                 protocol: int = paho.MQTTv311, keepalive: int = 60,
                 will: Optional[tuple] = None, max_inflight: int = 20):
        self.port = port
        self.client_id = client_id
        self.protocol = protocol
        self.keepalive = keepalive
        self.clean_session = clean_session
        self.client = paho.Client(
            client_id=client_id,
            clean_session=None if protocol == paho.MQTTv5 else clean_session,
            protocol=protocol, reconnect_on_failure=False)
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)  # unlimited
        if will:
            topic, data, qos, retain = will
            self.client.will_set(topic, data, qos, retain)
        self.inbox = Inbox(f"paho {client_id}")
        self.cond = threading.Condition()
        self.connack: Optional[dict] = None  # {'rc', 'session_present', 'properties'}
        self.disconnected_rc: Optional[int] = None
        self.suback: dict[int, list] = {}
        self.unsuback: set[int] = set()
        c = self.client
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.on_unsubscribe = self._on_unsubscribe

    # callbacks (network thread); signatures differ between 3.1.1 and 5
    def _on_connect(self, client, userdata, flags, rc, properties=None):
        with self.cond:
            self.connack = {"rc": int(rc.value if hasattr(rc, "value") else rc),
                            "session_present": int(flags.get("session present", 0)),
                            "properties": properties}
            self.cond.notify_all()

    def _on_disconnect(self, client, userdata, rc, properties=None):
        with self.cond:
            self.disconnected_rc = int(rc.value if hasattr(rc, "value") else rc)
            self.cond.notify_all()
        self.inbox.close(f"disconnected (rc {self.disconnected_rc})")

    def _on_message(self, client, userdata, msg):
        self.inbox.add(Received(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain),
                                bool(msg.dup), getattr(msg, "properties", None)))

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        with self.cond:
            self.suback[mid] = [int(g.value if hasattr(g, "value") else g) for g in granted]
            self.cond.notify_all()

    def _on_unsubscribe(self, client, userdata, mid, *rest):
        with self.cond:
            self.unsuback.add(mid)
            self.cond.notify_all()

    def _wait(self, predicate, timeout, what):
        with self.cond:
            if not self.cond.wait_for(predicate, timeout):
                raise AssertionError(f"paho {self.client_id}: no {what} within {timeout:.0f}s")

    # operations
    def connect(self, timeout: float = EVENT_TIMEOUT, expect_rc: int = 0,
                properties: Optional[Properties] = None, clean_start=None) -> dict:
        """Connects and waits for the CONNACK; returns {'rc', 'session_present', ...}."""
        with self.cond:
            self.connack = None
            self.disconnected_rc = None
        kwargs = {}
        if self.protocol == paho.MQTTv5:
            kwargs["clean_start"] = self.clean_session if clean_start is None else clean_start
            kwargs["properties"] = properties
        self.client.connect(LOCALHOST, self.port, self.keepalive, **kwargs)
        self.client.loop_start()
        self._wait(lambda: self.connack is not None or self.disconnected_rc is not None,
                   timeout, "CONNACK")
        if self.connack is None:
            raise AssertionError(f"paho {self.client_id}: disconnected before CONNACK "
                                 f"(rc {self.disconnected_rc})")
        if self.connack["rc"] != expect_rc:
            raise AssertionError(f"paho {self.client_id}: CONNACK rc {self.connack['rc']}, "
                                 f"expected {expect_rc}")
        return self.connack

    def subscribe(self, topics: list, timeout: float = EVENT_TIMEOUT, **kwargs) -> list:
        """topics: [(filter, qos)] (or (filter, SubscribeOptions) for MQTT 5). Waits for the
        SUBACK and returns the granted QoS / reason codes."""
        rc, mid = self.client.subscribe(topics, **kwargs)
        assert rc == paho.MQTT_ERR_SUCCESS, f"subscribe: {paho.error_string(rc)}"
        self._wait(lambda: mid in self.suback, timeout, f"SUBACK for {topics}")
        return self.suback[mid]

    def unsubscribe(self, topics: list, timeout: float = EVENT_TIMEOUT):
        rc, mid = self.client.unsubscribe(topics)
        assert rc == paho.MQTT_ERR_SUCCESS, f"unsubscribe: {paho.error_string(rc)}"
        self._wait(lambda: mid in self.unsuback, timeout, f"UNSUBACK for {topics}")

    def publish(self, topic: str, data: bytes, qos: int = 0, retain: bool = False,
                properties: Optional[Properties] = None) -> paho.MQTTMessageInfo:
        info = self.client.publish(topic, data, qos, retain, properties)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            raise AssertionError(f"paho publish: {paho.error_string(info.rc)}")
        return info

    def publish_wait(self, topic: str, data: bytes, qos: int = 1, retain: bool = False,
                     properties: Optional[Properties] = None,
                     timeout: float = EVENT_TIMEOUT) -> paho.MQTTMessageInfo:
        """Publishes and waits until it is acknowledged (QoS 1/2) or written (QoS 0)."""
        info = self.publish(topic, data, qos, retain, properties)
        wait_published([info], timeout, f"paho {self.client_id} publish to {topic}")
        return info

    def wait_disconnected(self, timeout: float = EVENT_TIMEOUT) -> int:
        self._wait(lambda: self.disconnected_rc is not None, timeout, "disconnection")
        return self.disconnected_rc

    def stop_network(self):
        """Stops the network thread without closing the socket: from now on the client sends
        nothing (no PINGREQ), like a device that hung."""
        self.client.loop_stop()

    def socket(self) -> socket.socket:
        return self.client.socket()

    def drop_socket(self):
        """Closes the TCP connection abruptly (no DISCONNECT), like a device losing power."""
        self.client.socket().shutdown(socket.SHUT_RDWR)

    def disconnect(self, timeout: float = EVENT_TIMEOUT):
        """A clean DISCONNECT, waiting until paho has closed the socket."""
        self.client.disconnect()
        self.wait_disconnected(timeout)
        self.client.loop_stop()

    def close(self):
        try:
            self.client.disconnect()
        except Exception:
            pass
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


def wait_published(infos: list, timeout: float, what: str):
    """Until every paho MQTTMessageInfo in `infos` is acknowledged, or AssertionError."""
    deadline = time.monotonic() + timeout
    for i, info in enumerate(infos):
        info.wait_for_publish(max(0.01, deadline - time.monotonic()))
        if not info.is_published():
            done = sum(1 for x in infos if x.is_published())
            raise AssertionError(f"{what}: only {done} of {len(infos)} publishes acknowledged "
                                 f"within {timeout:.0f}s (first missing: #{i}, mid {info.mid})")


def v5_properties(packet_type: int, **values) -> Properties:
    p = Properties(packet_type)
    for k, v in values.items():
        setattr(p, k, v)
    return p


# ---- raw MQTT bytes ----------------------------------------------------------------------------


def remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_str(s: bytes) -> bytes:
    return struct.pack(">H", len(s)) + s


def packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + remaining_length(len(body)) + body


def connect_packet(client_id: bytes = b"raw", clean: bool = True, keepalive: int = 60,
                   level: int = 4, name: bytes = b"MQTT",
                   will: Optional[tuple] = None) -> bytes:
    """CONNECT; `will` = (topic, payload, qos, retain)."""
    flags = 0x02 if clean else 0x00
    body_payload = mqtt_str(client_id)
    if will:
        topic, data, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        body_payload += mqtt_str(topic) + mqtt_str(data)
    variable = mqtt_str(name) + bytes([level, flags]) + struct.pack(">H", keepalive)
    if level == 5:
        variable += b"\x00"  # no properties
    return packet(0x10, variable + body_payload)


def subscribe_packet(packet_id: int, filters: list) -> bytes:
    """SUBSCRIBE; filters = [(filter bytes, qos)]."""
    body = struct.pack(">H", packet_id) + b"".join(mqtt_str(f) + bytes([q]) for f, q in filters)
    return packet(0x82, body)


def publish_packet(topic: bytes, data: bytes, qos: int = 0, packet_id: int = 1,
                   retain: bool = False, dup: bool = False) -> bytes:
    first = 0x30 | (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = mqtt_str(topic) + (struct.pack(">H", packet_id) if qos else b"") + data
    return packet(first, body)


CONNACK_ACCEPTED = b"\x20\x02\x00\x00"


class RawClient:
    """A TCP connection to the MQTT port that sends exactly the bytes it is given."""

    def __init__(self, port: int, timeout: float = EVENT_TIMEOUT):
        self.sock = socket.create_connection((LOCALHOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout

    def send(self, data: bytes) -> bool:
        """False if the peer already closed the connection."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def recv_exact(self, n: int, timeout: Optional[float] = None) -> bytes:
        self.sock.settimeout(timeout or self.timeout)
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise AssertionError(f"connection closed after {out!r}, expected {n} bytes")
            out += chunk
        return out

    def read_packet(self, timeout: Optional[float] = None) -> tuple[int, bytes]:
        """One MQTT packet: (first byte, body)."""
        first = self.recv_exact(1, timeout)[0]
        length, shift = 0, 0
        while True:
            b = self.recv_exact(1, timeout)[0]
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        return first, self.recv_exact(length, timeout) if length else b""

    def read_publish(self, timeout: Optional[float] = None) -> dict:
        """One PUBLISH packet, decoded (MQTT 3.1.1)."""
        first, body = self.read_packet(timeout)
        assert first >> 4 == 3, f"expected PUBLISH, got packet type {first >> 4}: {body.hex()}"
        qos = (first >> 1) & 3
        n = struct.unpack(">H", body[:2])[0]
        topic, rest = body[2:2 + n], body[2 + n:]
        packet_id = None
        if qos:
            packet_id, rest = struct.unpack(">H", rest[:2])[0], rest[2:]
        return {"topic": topic.decode(), "qos": qos, "dup": bool(first & 0x08),
                "retain": bool(first & 0x01), "packet_id": packet_id, "payload": rest}

    def read_until_closed(self, timeout: Optional[float] = None) -> tuple[bytes, bool]:
        """Reads until the server closes the connection. Returns (bytes read, closed); closed
        is False if `timeout` passed first."""
        deadline = time.monotonic() + (timeout or self.timeout)
        out = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return out, False
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return out, False
            except ConnectionResetError:
                return out, True
            if not chunk:
                return out, True
            out += chunk

    def connect(self, client_id: bytes, **kwargs):
        """CONNECT and expect an accepting CONNACK."""
        assert self.send(connect_packet(client_id, **kwargs))
        ack = self.recv_exact(4)
        assert ack == CONNACK_ACCEPTED, f"CONNACK {ack.hex()}"

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
