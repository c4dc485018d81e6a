#!/usr/bin/env python3
"""holdfastd's CoAP listener driven by Debian's libcoap 4.3 clients (coap-client-notls and
coap-client-openssl from libcoap3-bin) and, where a client must misbehave on purpose
(retransmitted duplicates, malformed datagrams, floods), by hand-made datagrams: CON and NON
uploads (answers piggybacked on the ACK, or separate after it), Block1 and Block2, duplicates,
errors, GET take/peek and its retransmission, Observe, DTLS with pre-shared keys and with
certificates made here by openssl, rate limits, and durability across SIGKILL. Payload hashes
prove byte-exact storage.

Run: /usr/bin/python3 test_coap.py --holdfastd PATH
"""
import argparse
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_mqtt  # noqa: E402  (BrokerTest, the binary)
from harness import (CLIENT_TIMEOUT, EVENT_TIMEOUT, LOCALHOST, make_test_pki,  # noqa: E402
                     mosquitto_pub, payload, sha, wait_until)

ROUTES = """
[[route]]
pattern = "devices/+/messages/events/#"
queue = "iothub/{1}"
[[route]]
pattern = "devices/+/messages/events"
queue = "iothub/{1}"
[[route]]
pattern = "temperature"
queue = "temperature"
"""

CON, NON, ACK, RST = 0, 1, 2, 3
POST, PUT, GET = 2, 3, 1


# ---- hand-made CoAP (RFC 7252 3) ----------------------------------------------------------------


def option_bytes(options: list) -> bytes:
    """options: [(number, bytes)], any order."""
    out, last = b"", 0
    for number, value in sorted(options, key=lambda o: o[0]):
        delta, length = number - last, len(value)
        last = number

        def nibble(n):
            if n < 13:
                return n, b""
            if n < 269:
                return 13, bytes([n - 13])
            return 14, struct.pack(">H", n - 269)
        d, dx = nibble(delta)
        ln, lx = nibble(length)
        out += bytes([(d << 4) | ln]) + dx + lx + value
    return out


def datagram(mtype: int, code: int, mid: int, token: bytes = b"", path: str = "",
             body: bytes = b"", options: list = ()) -> bytes:
    opts = [(11, seg.encode()) for seg in path.split("/") if path] + list(options)
    out = bytes([0x40 | (mtype << 4) | len(token), code]) + struct.pack(">H", mid) + token
    out += option_bytes(opts)
    if body:
        out += b"\xff" + body
    return out


def parse(data: bytes) -> dict:
    tkl = data[0] & 0x0F
    out = {"type": (data[0] >> 4) & 3, "code": data[1], "mid": struct.unpack(">H", data[2:4])[0],
           "token": data[4:4 + tkl], "options": [], "payload": b""}
    i, number = 4 + tkl, 0
    while i < len(data):
        if data[i] == 0xFF:
            out["payload"] = data[i + 1:]
            break
        d, ln = data[i] >> 4, data[i] & 0x0F
        i += 1
        ext = {13: (1, 13), 14: (2, 269)}
        if d in ext:
            n, add = ext[d]
            d = int.from_bytes(data[i:i + n], "big") + add
            i += n
        if ln in ext:
            n, add = ext[ln]
            ln = int.from_bytes(data[i:i + n], "big") + add
            i += n
        number += d
        out["options"].append((number, data[i:i + ln]))
        i += ln
    return out


def code(cls: int, detail: int) -> int:
    return (cls << 5) | detail


def code_text(c: int) -> str:
    return f"{c >> 5}.{c & 31:02d}"


class RawCoap:
    """A UDP socket that sends exactly the datagrams it is given."""

    def __init__(self, port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect((LOCALHOST, port))

    def send(self, data: bytes):
        self.sock.send(data)

    def recv(self, timeout: float = EVENT_TIMEOUT) -> dict:
        self.sock.settimeout(timeout)
        return parse(self.sock.recv(65536))

    def recv_until(self, predicate, timeout: float = EVENT_TIMEOUT) -> list:
        """Every datagram received until one satisfies `predicate` (which is last)."""
        got = []
        while True:
            m = self.recv(timeout)
            got.append(m)
            if predicate(m):
                return got

    def close(self):
        self.sock.close()


# ---- coap-client -------------------------------------------------------------------------------


class CoapObserver:
    """coap-client-notls observing `url` for 60 s; its packet dump (-v 6) is read as it comes."""

    def __init__(self, url: str):
        self.proc = subprocess.Popen(["stdbuf", "-oL", "coap-client-notls", "-v", "6", "-s", "60",
                                      "-B", "60", url],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines, self.seen = [], threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.seen:
                self.lines.append(raw)
                self.seen.notify_all()

    def wait_for_payloads(self, payloads: list, timeout: float = EVENT_TIMEOUT):
        """Until every payload appeared in a notification, or AssertionError."""
        want = [b"<<" + p.hex().encode() + b">>" for p in payloads]
        with self.seen:
            ok = self.seen.wait_for(lambda: all(any(w in l for l in self.lines) for w in want),
                                    timeout)
        if not ok:
            raise AssertionError("coap-client did not show every payload: " +
                                 b"".join(self.lines[-20:]).decode(errors="replace"))

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


def coap_client(url: str, method: str = "post", data: bytes = None, non: bool = False,
                block: int = None, extra: tuple = (), binary: str = "coap-client-notls",
                timeout: float = CLIENT_TIMEOUT) -> subprocess.CompletedProcess:
    """Runs one coap-client request with a verbose trace (-v 6 prints every PDU sent and
    received) and returns the finished process. `data` goes through a file (-f): coap-client
    reads at most 20000 bytes from stdin. An answer's body is in the process's `body`."""
    work = tempfile.mkdtemp(prefix="holdfast-coap-client-")
    args = [binary, "-m", method, "-v", "6", "-B", str(int(timeout)),
            "-o", os.path.join(work, "body")]
    if data is not None:
        with open(os.path.join(work, "request"), "wb") as f:
            f.write(data)
        args += ["-f", os.path.join(work, "request")]
    if non:
        args.append("-N")
    if block:
        args += ["-b", str(block)]
    args += list(extra) + [url]
    try:
        r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout + 10)
        try:
            with open(os.path.join(work, "body"), "rb") as f:
                r.body = f.read()
        except FileNotFoundError:
            r.body = None
        return r
    finally:
        shutil.rmtree(work, ignore_errors=True)


def response_codes(trace: bytes) -> list:
    """The response codes of the PDUs a coap-client trace shows, e.g. ['2.01']."""
    out = []
    for line in trace.decode(errors="replace").splitlines():
        if line.startswith("v:1 ") and " c:" in line:
            c = line.split(" c:")[1].split(" ")[0]
            if c[0] in "2345" and c != "0.00":
                out.append(c)
    return out


class CoapTest(test_mqtt.BrokerTest):
    BROKER = {"coap": True, "extra_config": ROUTES}

    def url(self, path: str) -> str:
        return f"{self.broker.coap_url}/{path}"

    def post(self, path: str, data: bytes, expect: str = "2.01", **kwargs) -> list:
        r = coap_client(self.url(path), data=data, **kwargs)
        codes = response_codes(r.stdout + r.stderr)
        self.assertIn(expect, codes, f"coap-client {path}: {r.stdout[-2000:]!r} {r.stderr[-500:]!r}")
        return codes

    def raw(self) -> RawCoap:
        c = RawCoap(self.broker.coap_port)
        self.addCleanup(c.close)
        return c

    def stored(self, queue: str) -> list:
        return self.broker.peek_all(queue)

    def metric(self, name: str, **labels) -> float:
        for m in self.broker.metrics():
            if m.name == name and all(m.labels.get(k) == v for k, v in labels.items()):
                return m.value
        return 0.0


class IngestTest(CoapTest):
    def test_confirmable_posts_are_acknowledged_once_stored_byte_for_byte(self):
        sent = [payload(self.rng, i, self.rng.randrange(1, 700)) for i in range(8)]
        for body in sent:
            codes = self.post("devices/dev1/messages/events", body,
                              extra=("-t", "application/octet-stream"))
            self.assertEqual(codes, ["2.01"])
        stored = self.stored("iothub/dev1")
        self.assertEqual([sha(m["payload"]) for m in stored], [sha(b) for b in sent])
        self.assertEqual(stored[0]["properties"]["content_type"], "application/octet-stream")
        self.assertEqual(stored[0]["origin"]["device_id"], "dev1")
        self.assertEqual(stored[0]["origin"]["protocol"], "coap")

    def test_put_answers_2_04_and_routes_like_mqtt(self):
        body = payload(self.rng, 1, 50)
        self.assertEqual(self.post("temperature", body, expect="2.04", method="put"), ["2.04"])
        self.assertEqual([sha(m["payload"]) for m in self.stored("temperature")], [sha(body)])

    def test_non_confirmable_posts_are_stored(self):
        sent = [payload(self.rng, i, 100) for i in range(5)]
        for body in sent:
            self.post("temperature", body, non=True)
        self.assertEqual([sha(m["payload"]) for m in self.stored("temperature")],
                         [sha(b) for b in sent])

    def test_blockwise_upload_larger_than_a_datagram_is_stored_whole(self):
        body = payload(self.rng, 1, 20000)
        r = coap_client(self.url("temperature"), data=body, block=64)
        self.assertIn("2.01", response_codes(r.stdout + r.stderr))
        self.assertIn(b"Block1", r.stdout + r.stderr)  # it really went block by block
        self.assertEqual([sha(m["payload"]) for m in self.stored("temperature")], [sha(body)])

    def test_no_route_is_4_04_and_stores_nothing(self):
        self.post("nowhere/at/all", b"x", expect="4.04")
        self.assertEqual(self.broker.message_queues(), [])

    def test_acknowledged_message_survives_sigkill(self):
        body = payload(self.rng, 7, 300)
        self.post("devices/dev2/messages/events", body)
        self.broker.kill()
        self.broker.restart()
        self.assertEqual([sha(m["payload"]) for m in self.stored("iothub/dev2")], [sha(body)])


class RawIngestTest(CoapTest):
    def test_the_answer_rides_on_the_ack_when_the_commit_is_quick(self):
        c = self.raw()
        body = payload(self.rng, 2, 80)
        c.send(datagram(CON, POST, 0x0101, b"\x31\x32", "temperature", body))
        m = c.recv()  # the first datagram back: the answer itself, not an empty ACK
        self.assertEqual((m["type"], code_text(m["code"]), m["mid"], m["token"]),
                         (ACK, "2.01", 0x0101, b"\x31\x32"))
        self.assertEqual([sha(p["payload"]) for p in self.stored("temperature")], [sha(body)])

    def test_retransmitted_duplicates_are_stored_once(self):
        c = self.raw()
        body = payload(self.rng, 1, 64)
        request = datagram(CON, POST, 0x1234, b"\x07", "temperature", body)
        c.send(request)
        c.send(request)  # a retransmission, most likely while the first copy is being stored
        got = c.recv_until(lambda m: m["token"] == b"\x07" and m["code"] == code(2, 1))
        answer = got[-1]
        if answer["type"] == CON:  # separate: the retransmission was acknowledged empty first
            self.assertTrue(any(m["type"] == ACK and m["mid"] == 0x1234 and m["code"] == 0
                                for m in got), got)
            c.send(datagram(ACK, 0, answer["mid"]))
        else:  # piggybacked: both copies came after the commit
            self.assertEqual((answer["type"], answer["mid"]), (ACK, 0x1234))
        c.send(request)  # a retransmission after the answer: answered again, not stored
        again = c.recv_until(lambda m: m["mid"] == 0x1234 and m["code"] != 0)[-1]
        self.assertEqual((again["type"], again["code"]), (ACK, code(2, 1)))
        non = datagram(NON, POST, 0x2000, b"\x08", "temperature", b"non")
        c.send(non)
        c.recv_until(lambda m: m["token"] == b"\x08" and m["code"] == code(2, 1))
        c.send(non)
        c.recv_until(lambda m: m["token"] == b"\x08" and m["code"] == code(2, 1))
        self.assertEqual([m["payload"] for m in self.stored("temperature")], [body, b"non"])
        wait_until(lambda: self.metric("holdfast_coap_duplicates_total") >= 2, EVENT_TIMEOUT,
                   "the duplicates counted")

    def test_malformed_datagrams_are_dropped_and_counted(self):
        c = self.raw()
        for junk in (b"\x00", b"\x4f\x01\x00\x01", b"\x40\x02\x00\x02\xff",
                     bytes(self.rng.randrange(256) for _ in range(40)) + b"\x40"):
            c.send(b"\xff" + junk)  # version 3: never valid
        c.send(b"\x48\x02\x00\x03")  # token length 8, but no token: malformed
        wait_until(lambda: self.metric("holdfast_protocol_errors_total", protocol="coap") >= 1,
                   EVENT_TIMEOUT, "malformed datagrams counted")
        self.post("temperature", b"after")  # the listener still works
        self.assertEqual([m["payload"] for m in self.stored("temperature")], [b"after"])

    def test_empty_path_is_4_00(self):
        c = self.raw()
        c.send(datagram(CON, POST, 1, b"\x01", "", b"x"))
        m = c.recv_until(lambda m: m["code"] != 0)[-1]
        self.assertEqual(code_text(m["code"]), "4.00")


class LimitTest(CoapTest):
    BROKER = {"coap": True, "extra_config": ROUTES, "max_packet_bytes": "2KiB",
              "coap_listener_config": "rate_limit = 5"}

    def test_a_body_over_max_packet_bytes_is_4_13_with_size1(self):
        c = self.raw()
        c.send(datagram(CON, POST, 9, b"\x09", "temperature", b"x" * 1000,
                        options=[(60, struct.pack(">H", 3000))]))
        self.assertEqual(c.recv_until(lambda m: m["code"] != 0)[-1]["code"], code(2, 1))
        r = coap_client(self.url("temperature"), data=payload(self.rng, 1, 3000), block=256)
        self.assertIn("4.13", response_codes(r.stdout + r.stderr))
        self.assertEqual(len(self.stored("temperature")), 1)

    def test_requests_over_the_rate_limit_get_4_29_with_max_age(self):
        c = self.raw()
        for i in range(12):
            c.send(datagram(NON, POST, 100 + i, bytes([i + 1]), "temperature", b"%d" % i))
        answers = {}
        while len(answers) < 12:
            m = c.recv()
            if m["code"]:
                answers[m["token"][0]] = m
        limited = [m for m in answers.values() if m["code"] == code(4, 29)]
        self.assertGreaterEqual(len(limited), 1)
        self.assertTrue(all(any(n == 14 for n, _ in m["options"]) for m in limited))
        accepted = [m for m in answers.values() if m["code"] == code(2, 1)]
        self.assertEqual(len(self.stored("temperature")), len(accepted))
        self.assertGreaterEqual(self.metric("holdfast_coap_rate_limited_total"), len(limited))


class ConsumerTest(CoapTest):
    def test_get_peeks_and_takes_in_order(self):
        sent = [payload(self.rng, i, 200) for i in range(2)]
        for body in sent:
            self.post("temperature", body)
        for _ in range(2):
            r = coap_client(self.url("temperature?peek"), method="get")
            self.assertIn("2.05", response_codes(r.stdout))
            self.assertEqual(sha(r.body or b""), sha(sent[0]))
        for body in sent:
            r = coap_client(self.url("temperature"), method="get")
            self.assertEqual(sha(r.body or b""), sha(body))
        r = coap_client(self.url("temperature?wait=100"), method="get")
        self.assertIn("4.04", response_codes(r.stdout))
        wait_until(lambda: self.broker.depth("temperature") == 0, EVENT_TIMEOUT,
                   "the taken messages consumed")

    def test_get_of_a_message_larger_than_a_block_is_served_blockwise(self):
        sent = [payload(self.rng, 1, 5000), payload(self.rng, 2, 3000)]
        for body in sent:
            self.post("temperature", body, block=1024)
        r = coap_client(self.url("temperature"), method="get", block=64)
        trace = r.stdout + r.stderr
        self.assertIn("2.05", response_codes(trace))
        self.assertIn(b"Block2", trace)  # it really came block by block
        self.assertEqual(sha(r.body or b""), sha(sent[0]))
        r = coap_client(self.url("temperature"), method="get")  # the client's default size
        self.assertEqual(sha(r.body or b""), sha(sent[1]))
        wait_until(lambda: self.broker.depth("temperature") == 0, EVENT_TIMEOUT,
                   "both messages taken")

    def test_a_retransmitted_get_takes_nothing_more(self):
        sent = [payload(self.rng, i, 300) for i in range(3)]
        for body in sent:
            self.post("temperature", body)
        c = self.raw()

        def get(mid: int, token: bytes) -> dict:
            c.send(datagram(CON, GET, mid, token, "temperature"))
            m = c.recv_until(lambda m: m["token"] == token and m["code"] != 0)[-1]
            if m["type"] == CON:
                c.send(datagram(ACK, 0, m["mid"]))
            self.assertEqual(code_text(m["code"]), "2.05", m)
            return m

        first = get(0x4321, b"\x21")
        self.assertEqual(first["payload"], sent[0])
        again = get(0x4321, b"\x21")  # the same message-id: the answer was lost, say
        self.assertEqual(again["payload"], sent[0])
        wait_until(lambda: self.broker.depth("temperature") == 2, EVENT_TIMEOUT,
                   "one message taken")
        self.assertEqual(get(0x4322, b"\x22")["payload"], sent[1])
        wait_until(lambda: self.broker.depth("temperature") == 1, EVENT_TIMEOUT,
                   "two messages taken")
        self.assertEqual([sha(m["payload"]) for m in self.stored("temperature")], [sha(sent[2])])
        wait_until(lambda: self.metric("holdfast_coap_duplicates_total") >= 1, EVENT_TIMEOUT,
                   "the retransmission counted")

    def test_a_long_wait_is_acknowledged_then_answered_separately(self):
        c = self.raw()
        c.send(datagram(CON, GET, 0x5150, b"\x51", "temperature",
                        options=[(15, b"wait=20000")]))
        ack = c.recv()  # past the piggyback window (1 s): an empty ACK, the answer comes later
        self.assertEqual((ack["type"], ack["code"], ack["mid"]), (ACK, 0, 0x5150))
        body = payload(self.rng, 5, 120)
        self.post("temperature", body)
        answer = c.recv_until(lambda m: m["token"] == b"\x51")[-1]
        self.assertEqual((answer["type"], code_text(answer["code"]), answer["payload"]),
                         (CON, "2.05", body))
        c.send(datagram(ACK, 0, answer["mid"]))
        wait_until(lambda: self.broker.depth("temperature") == 0, EVENT_TIMEOUT,
                   "the message taken")

    def test_get_on_a_topic_is_4_04(self):
        r = coap_client(self.url("not/a/queue"), method="get")
        self.assertIn("4.04", response_codes(r.stdout))

    def test_observe_pushes_new_messages_from_coap_and_mqtt(self):
        observer = CoapObserver(self.url("live/+"))
        self.addCleanup(observer.close)
        wait_until(lambda: self.metric("holdfast_coap_observers") >= 1, EVENT_TIMEOUT,
                   "the observation registered")
        first, second = payload(self.rng, 1, 30), payload(self.rng, 2, 30)
        self.post("live/coap", first, non=True)
        mosquitto_pub(self.port, "live/mqtt", second, qos=1)
        observer.wait_for_payloads([first, second])


class DtlsTest(CoapTest):
    KEYS = {"dev7": b"secret-of-dev7", "dev8": b"other-secret"}

    def setUp(self):
        self.pskdir = tempfile.mkdtemp(prefix="holdfast-psk-")
        self.addCleanup(shutil.rmtree, self.pskdir, True)
        path = os.path.join(self.pskdir, "psk.txt")
        with open(path, "w") as f:
            f.write("# identity key-hex\n")
            for ident, key in self.KEYS.items():
                f.write(f"{ident} {key.hex()}\n")
        self.BROKER = {"coap": True, "extra_config": ROUTES,
                       "coap_listener_config": f'tls = true\npsk_file = "{path}"'}
        super().setUp()

    def dtls(self, path: str, data: bytes, user: str, key: bytes):
        return coap_client(f"coaps://{LOCALHOST}:{self.broker.coap_port}/{path}", data=data,
                           binary="coap-client-openssl", timeout=20,
                           extra=("-u", user, "-k", key.decode()))

    def test_psk_identity_is_the_device_id(self):
        body = payload(self.rng, 1, 100)
        r = self.dtls("temperature", body, "dev7", self.KEYS["dev7"])
        self.assertIn("2.01", response_codes(r.stdout + r.stderr), r.stderr[-1000:])
        stored = self.stored("temperature")
        self.assertEqual([sha(m["payload"]) for m in stored], [sha(body)])
        self.assertEqual(stored[0]["origin"]["device_id"], "dev7")

    def test_a_device_may_not_send_as_another(self):
        r = self.dtls("devices/dev8/messages/events", b"spoof", "dev7", self.KEYS["dev7"])
        self.assertIn("4.03", response_codes(r.stdout + r.stderr))
        self.assertEqual(self.broker.message_queues(), [])

    def test_a_wrong_key_stores_nothing(self):
        r = self.dtls("temperature", b"x", "dev7", b"not-the-key")
        self.assertNotIn("2.01", response_codes(r.stdout + r.stderr))
        self.assertEqual(self.broker.message_queues(), [])


class DtlsCertificates(CoapTest):
    """DTLS with a server certificate made here by openssl (harness.make_test_pki), and with
    CLIENT_CA the test CA as ca_file (clients must show a certificate it signed)."""
    CLIENT_CA = False

    @classmethod
    def setUpClass(cls):
        cls.pki_dir = tempfile.mkdtemp(prefix="holdfast-it-pki-")
        cls.pki = make_test_pki(cls.pki_dir, clients=("dev9",))
        ca = f'ca_file = "{cls.pki["ca"]}"' if cls.CLIENT_CA else ""
        cls.BROKER = {"coap": True, "extra_config": ROUTES, "coap_listener_config": f"""
tls = true
cert_file = "{cls.pki["server_cert"]}"
key_file = "{cls.pki["server_key"]}"
{ca}
"""}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pki_dir, ignore_errors=True)

    def dtls(self, path: str, data: bytes, client: str = None) -> list:
        """POSTs over DTLS with coap-client-openssl, verifying the server against the test CA,
        showing `client`'s certificate if given. Returns the response codes seen."""
        extra = ["-C", self.pki["ca"]]
        if client:
            extra += ["-c", self.pki["client_cert"][client], "-j", self.pki["client_key"][client]]
        r = coap_client(f"coaps://{LOCALHOST}:{self.broker.coap_port}/{path}", data=data,
                        binary="coap-client-openssl", timeout=20, extra=tuple(extra))
        self.last_trace = (r.stdout + r.stderr)[-1500:]
        return response_codes(r.stdout + r.stderr)


class DtlsServerCertificateTest(DtlsCertificates):
    """No client CA: clients show no certificate and their path names the device."""

    def test_a_verified_server_certificate_and_the_path_names_the_device(self):
        body = payload(self.rng, 1, 200)
        self.assertIn("2.01", self.dtls("devices/dev5/messages/events", body), self.last_trace)
        stored = self.stored("iothub/dev5")
        self.assertEqual([sha(m["payload"]) for m in stored], [sha(body)])
        self.assertEqual(stored[0]["origin"]["device_id"], "dev5")

    def test_plain_coap_on_the_dtls_port_is_not_answered(self):
        r = coap_client(self.url("temperature"), data=b"x", timeout=3)
        self.assertNotIn("2.01", response_codes(r.stdout + r.stderr))
        self.assertEqual(self.broker.message_queues(), [])


class DtlsClientCertificateTest(DtlsCertificates):
    """With ca_file: clients must show a certificate the test CA signed, and its name (CN) is
    their device id."""
    CLIENT_CA = True

    def test_the_client_certificate_names_the_device(self):
        body = payload(self.rng, 2, 300)
        self.assertIn("2.01", self.dtls("temperature", body, client="dev9"), self.last_trace)
        stored = self.stored("temperature")
        self.assertEqual([sha(m["payload"]) for m in stored], [sha(body)])
        self.assertEqual(stored[0]["origin"]["device_id"], "dev9")

    def test_a_device_may_not_send_as_another(self):
        codes = self.dtls("devices/dev8/messages/events", b"spoof", client="dev9")
        self.assertIn("4.03", codes, self.last_trace)
        self.assertEqual(self.broker.message_queues(), [])

    def test_a_client_without_a_certificate_stores_nothing(self):
        self.assertNotIn("2.01", self.dtls("temperature", b"x"), self.last_trace)
        self.assertEqual(self.broker.message_queues(), [])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holdfastd", required=True, help="path of the holdfastd binary")
    args, rest = parser.parse_known_args()
    test_mqtt.HOLDFASTD = os.path.abspath(args.holdfastd)
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
