#!/usr/bin/env python3
"""holdfastd's AMQP 1.0 listener driven by Python qpid-proton (Debian's python3-qpid-proton):
the on-premise broker dialogue (senders, queue consumers, topic receivers) and IoT Hub's
device dialogue ($cbs put-token, SASL PLAIN / MSSBCBS, devices/{id}/messages/events links,
batches), errors, bad input, and durability across SIGKILL.

Run: /usr/bin/python3 test_amqp.py --holdfastd PATH
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

from proton import (ConnectionException, Data, Delivery, Described, Message, SSLDomain, int32,
                    symbol, ulong)
from proton.reactor import AtMostOnce
from proton.utils import (BlockingConnection, LinkDetached,
                          SendException)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_mqtt  # noqa: E402  (BrokerTest, the binary)
from harness import (  # noqa: E402
    EVENT_TIMEOUT, LOCALHOST, make_test_pki, payload, sha, wait_until)

HOST = "myhub.azure-devices.net"
KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # IOTHUB.md's test key
OTHER_KEY = base64.b64encode(bytes(range(32, 64))).decode()

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
[[route]]
pattern = "work/+"
queue = "work/{1}"
"""


def token(device: str, key: str = KEY, expiry: int = None) -> str:
    se = int(time.time()) + 3600 if expiry is None else expiry
    sr = urllib.parse.quote(f"{HOST}/devices/{device}", safe="")
    digest = hmac.new(base64.b64decode(key), f"{sr}\n{se}".encode(), hashlib.sha256).digest()
    sig = urllib.parse.quote(base64.b64encode(digest).decode(), safe="")
    return f"SharedAccessSignature sr={sr}&sig={sig}&se={se}"


def data_section(data: bytes) -> bytes:
    d = Data()
    d.put_object(Described(ulong(0x75), data))
    return d.encode()


class AmqpTest(test_mqtt.BrokerTest):
    BROKER = {"amqp": True, "extra_config": ROUTES}

    def connect(self, **kwargs) -> BlockingConnection:
        c = BlockingConnection(self.broker.amqp_url, timeout=EVENT_TIMEOUT, **kwargs)
        self.addCleanup(self._close, c)
        return c

    @staticmethod
    def _close(c: BlockingConnection):
        try:
            c.close()
        except Exception:  # already closed by the broker, which is what some tests want
            pass

    def flush(self, conn: BlockingConnection):
        """A blocking client does I/O only while it waits: attaching a link (which waits for
        the broker's attach) pushes out what was settled before it."""
        self._flushes = getattr(self, "_flushes", 0) + 1
        conn.create_sender("work/flush", name=f"flush-{self._flushes}").close()

    def send_raw(self, conn: BlockingConnection, address: str, raw: bytes) -> Delivery:
        """Sends pre-encoded message bytes unsettled and waits for the broker's settlement."""
        sender = conn.create_sender(address, name="raw-%d" % time.monotonic_ns())
        delivery = sender.link.delivery("raw-%d" % time.monotonic_ns())
        sender.link.send(raw)
        sender.link.advance()
        conn.wait(lambda: delivery.remote_state is not None and delivery.remote_state != 0,
                  timeout=EVENT_TIMEOUT, msg="settlement of a raw transfer")
        return delivery


class IngressTest(AmqpTest):
    def test_unsettled_sends_are_accepted_once_stored_byte_for_byte(self):
        c = self.connect()
        s = c.create_sender("temperature")
        sent = []
        for i in range(20):
            body = payload(self.rng, i, 100)
            m = Message(body=body, inferred=True, id=i, correlation_id=f"c{i}",
                        content_type="application/octet-stream", content_encoding="tea",
                        properties={"unit": "C", "seq": i})
            s.send(m)  # returns once the broker settled it accepted (raises otherwise)
            sent.append(m)
        stored = self.broker.peek_all("temperature")
        self.assert_same_payloads([m["payload"] for m in stored], [m.body for m in sent],
                                  "temperature queue")
        for m, orig in zip(stored, sent):
            p = m["properties"]
            self.assertEqual(p["message_id"], str(orig.id))
            self.assertEqual(p["correlation_id"], orig.correlation_id)
            self.assertEqual(p["content_type"], "application/octet-stream")
            self.assertEqual(p["content_encoding"], "tea")
            self.assertIn(["unit", "C"], p["user"])
            self.assertEqual(m["origin"]["protocol"], "amqp")
            # The device's bare message is kept exactly: it decodes to the same message.
            again = Message()
            again.decode(base64.b64decode(m["amqp_bare_base64"]))
            self.assertEqual(again.id, orig.id)
            self.assertEqual(again.properties, orig.properties)
            self.assertEqual(sha(again.body), sha(orig.body))

    def test_multi_frame_message_is_stored_whole(self):
        c = self.connect()
        big = payload(self.rng, 1, 300 * 1024)  # several 64 KiB frames
        c.create_sender("temperature").send(Message(body=big, inferred=True))
        stored = self.broker.peek_all("temperature")
        self.assertEqual([sha(m["payload"]) for m in stored], [sha(big)])

    def test_oversize_message_detaches_the_link_and_spares_the_connection(self):
        self.broker.stop()
        self.broker.max_packet_bytes = "4KiB"
        self.broker.start()
        c = self.connect()
        s = c.create_sender("temperature")
        with self.assertRaises((LinkDetached, SendException)) as caught:
            s.send(Message(body=b"x" * 8192, inferred=True))
        self.assertIn("message-size-exceeded", str(caught.exception))
        # The same connection still works.
        c.create_sender("temperature", name="second").send(Message(body=b"small", inferred=True))
        self.assertEqual([m["payload"] for m in self.broker.peek_all("temperature")], [b"small"])

    def test_no_route_is_rejected_with_not_found(self):
        c = self.connect()
        with self.assertRaises(SendException) as caught:
            c.create_sender("nowhere/at/all").send(Message(body=b"lost?", inferred=True))
        self.assertEqual(caught.exception.state, Delivery.REJECTED)
        self.assertEqual(self.broker.message_queues(), [])

    def test_many_sessions_and_links_on_one_connection(self):
        # As the C# SDK does: a session per device (and one for CBS), many links.
        from proton import Endpoint
        c = self.connect()
        senders = []
        for i in range(20):
            ssn = c.conn.session()
            ssn.open()
            for j in range(3):
                snd = ssn.sender(f"s{i}-{j}")
                snd.target.address = f"work/s{i}"
                snd.open()
                senders.append(snd)
        c.wait(lambda: all(s.state & Endpoint.REMOTE_ACTIVE for s in senders),
               timeout=EVENT_TIMEOUT, msg="60 links on 20 sessions attached")
        deliveries = []
        for n, snd in enumerate(senders):
            d = snd.delivery(f"d{n}")
            snd.send(Message(body=f"m{n}".encode(), inferred=True).encode())
            snd.advance()
            deliveries.append(d)
        c.wait(lambda: all(d.remote_state == Delivery.ACCEPTED for d in deliveries),
               timeout=EVENT_TIMEOUT, msg="every transfer accepted")
        self.assertEqual(sum(self.broker.depth(f"work/s{i}") for i in range(20)), 60)

    def test_presettled_sends_are_stored(self):
        c = self.connect()
        s = c.create_sender("temperature", options=AtMostOnce())
        bodies = [payload(self.rng, i, 50) for i in range(10)]
        for b in bodies:
            s.send(Message(body=b, inferred=True))  # returns at once: nothing to wait for
        # A blocking client only does I/O while it waits: an unsettled send on the same
        # connection pushes the pre-settled transfers out before it.
        c.create_sender("work/flush").send(Message(body=b"flush", inferred=True))
        wait_until(lambda: self.broker.depth("temperature") == 10, EVENT_TIMEOUT,
                   "10 pre-settled messages stored")
        self.assert_same_payloads(self.stored_payloads("temperature"), bodies, "pre-settled")

    def test_anonymous_relay_uses_the_message_address(self):
        c = self.connect()
        s = c.create_sender(None)
        s.send(Message(address="temperature", body=b"relayed", inferred=True))
        self.assertEqual(self.stored_payloads("temperature"), [b"relayed"])

    def test_acknowledged_message_survives_sigkill(self):
        c = self.connect()
        body = payload(self.rng, 7, 64)
        c.create_sender("devices/dev1/messages/events").send(Message(body=body, inferred=True))
        self.broker.kill()
        self.broker.restart()
        self.assertEqual([sha(p) for p in self.stored_payloads("iothub/dev1")], [sha(body)])

    def test_iothub_batch_is_unpacked(self):
        c = self.connect()
        inner = [Message(body=payload(self.rng, i, 40), inferred=True, id=f"m{i}",
                         properties={"n": str(i)}) for i in range(3)]
        raw = b"".join(data_section(m.encode()) for m in inner)
        d = self.send_raw(c, "amqps://myhub.azure-devices.net/devices/dev2/messages/events", raw)
        self.assertEqual(d.remote_state, Delivery.ACCEPTED)
        stored = self.broker.peek_all("iothub/dev2")
        self.assert_same_payloads([m["payload"] for m in stored], [m.body for m in inner],
                                  "batch")
        self.assertEqual([m["properties"]["message_id"] for m in stored], ["m0", "m1", "m2"])
        self.assertEqual(stored[0]["origin"]["device_id"], "dev2")

    def test_garbage_closes_that_connection_only(self):
        good = self.connect()
        sender = good.create_sender("temperature")
        for junk in (b"GET / HTTP/1.1\r\n\r\n", b"AMQP\x00\x01\x00\x00" + b"\xff" * 64):
            with socket.create_connection((LOCALHOST, self.broker.amqp_port), timeout=10) as s:
                s.sendall(junk)
                s.settimeout(EVENT_TIMEOUT)
                while s.recv(4096):
                    pass  # holdfastd answers with its protocol header, then closes
        sender.send(Message(body=b"still fine", inferred=True))
        self.assertEqual(self.stored_payloads("temperature"), [b"still fine"])
        errors = sum(m.value for m in self.broker.metrics()
                     if m.name == "holdfast_protocol_errors_total"
                     and m.labels.get("protocol") == "amqp")
        self.assertGreaterEqual(errors, 2)

    def test_too_many_links_end_the_connection(self):
        c = self.connect()
        with self.assertRaises((ConnectionException, LinkDetached)):
            for i in range(1100):
                c.create_sender("temperature")
        other = self.connect()
        other.create_sender("temperature").send(Message(body=b"ok", inferred=True))


class FullQueueTest(AmqpTest):
    BROKER = {"amqp": True, "extra_config": ROUTES + """
[[queue_policy]]
pattern = "temperature"
max_bytes = "2KiB"
overflow = "reject"
"""}

    def test_a_full_queue_refuses_with_resource_limit_exceeded_and_keeps_what_it_has(self):
        c = self.connect()
        s = c.create_sender("temperature")
        stored = []
        with self.assertRaises(SendException) as caught:
            for i in range(100):
                body = payload(self.rng, i, 200)
                s.send(Message(body=body, inferred=True))
                stored.append(body)
        self.assertEqual(caught.exception.state, Delivery.REJECTED)
        self.assertGreater(len(stored), 0)  # `stored` holds the accepted ones only
        d = self.send_raw(c, "temperature", Message(body=b"x" * 200, inferred=True).encode())
        self.assertEqual(d.remote_state, Delivery.REJECTED)
        self.assertEqual(d.remote.condition.name, "amqp:resource-limit-exceeded")
        self.assert_same_payloads(self.stored_payloads("temperature"), stored,
                                  "kept after the refusals")


class TopicTest(AmqpTest):
    def test_receiver_on_a_topic_gets_mqtt_and_amqp_messages(self):
        c = self.connect()
        r = c.create_receiver("sensors/+", credit=10)
        mqtt_body = payload(self.rng, 1, 30)
        self.pub("sensors/a", mqtt_body, qos=1)
        m = r.receive(timeout=EVENT_TIMEOUT)
        self.assertEqual(sha(m.body), sha(mqtt_body))
        self.assertEqual(m.address, "sensors/a")
        amqp_body = payload(self.rng, 2, 30)
        self.connect().create_sender("sensors/b").send(Message(body=amqp_body, inferred=True))
        m = r.receive(timeout=EVENT_TIMEOUT)
        self.assertEqual(sha(m.body), sha(amqp_body))

    def test_mqtt_subscriber_gets_amqp_payload_bytes(self):
        sub = self.msub(["temperature"], qos=1)
        body = payload(self.rng, 3, 40)
        self.connect().create_sender("temperature").send(Message(body=body, inferred=True))
        got = sub.inbox.wait_count(1)
        self.assertEqual(sha(got[0].payload), sha(body))


class CbsTest(AmqpTest):
    """IoT Hub's device dialogue; the gateway knows dev1's key, dev9 is token passthrough."""

    BROKER = {"amqp": True, "amqp_listener_config": "require_device_auth = true"}

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.keys_dir = tempfile.mkdtemp(prefix="holdfast-it-keys-")
        keys = os.path.join(cls.keys_dir, "device-keys")
        with open(keys, "w") as f:
            f.write(f"dev1 {KEY}\n")
        cls.BROKER = dict(cls.BROKER, extra_config=f"""
[[upstream]]
name = "hub"
kind = "emulator"
host = "127.0.0.1"
auth = "device-keys"
device_keys_file = "{keys}"
""")

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.keys_dir, ignore_errors=True)

    def put_token(self, conn, device: str, tok: str, msg_id=None, cbs_type="servicebus.windows.net:sastoken"):
        sender = conn.create_sender("$cbs")
        receiver = conn.create_receiver("$cbs", credit=5)
        request = Message(
            id=msg_id if msg_id is not None else ulong(42), reply_to="cbs",
            properties={"operation": "put-token", "type": cbs_type,
                        "name": f"{HOST}/devices/{device}"},
            body=tok)
        sender.send(request)
        reply = receiver.receive(timeout=EVENT_TIMEOUT)  # replies come pre-settled
        sender.close()
        receiver.close()
        return request, reply

    def test_put_token_reply_keeps_the_request_id_type(self):
        c = self.connect()
        for msg_id in (ulong(7), "string-id-1"):
            request, reply = self.put_token(c, "dev1", token("dev1"), msg_id=msg_id)
            self.assertEqual(reply.correlation_id, request.id)
            self.assertIs(type(reply.correlation_id), type(request.id))
            self.assertEqual(reply.properties["status-code"], 200)
            self.assertIs(type(reply.properties["status-code"]), int32)  # an AMQP int

    def test_bad_signature_gets_401_and_the_link_is_refused(self):
        c = self.connect()
        _, reply = self.put_token(c, "dev1", token("dev1", key=OTHER_KEY))
        self.assertEqual(reply.properties["status-code"], 401)
        with self.assertRaises(LinkDetached) as caught:
            c.create_sender("devices/dev1/messages/events")
        self.assertIn("unauthorized-access", str(caught.exception))

    def test_token_then_telemetry(self):
        c = self.connect()
        _, reply = self.put_token(c, "dev1", token("dev1"))
        self.assertEqual(reply.properties["status-code"], 200)
        body = payload(self.rng, 1, 60)
        c.create_sender("amqps://myhub.azure-devices.net/devices/dev1/messages/events").send(
            Message(body=body, inferred=True))
        self.assertEqual([sha(p) for p in self.stored_payloads("iothub/dev1")], [sha(body)])
        # The token authorizes dev1 only.
        with self.assertRaises(LinkDetached):
            c.create_sender("devices/dev2/messages/events")

    def test_unlisted_device_is_passed_through_while_its_token_is_valid(self):
        c = self.connect()
        _, reply = self.put_token(c, "dev9", token("dev9", key=OTHER_KEY))
        self.assertEqual(reply.properties["status-code"], 200)
        c.create_sender("devices/dev9/messages/events").send(Message(body=b"t", inferred=True))
        _, expired = self.put_token(self.connect(), "dev9",
                                    token("dev9", key=OTHER_KEY, expiry=int(time.time()) - 3600))
        self.assertEqual(expired.properties["status-code"], 401)

    def test_connection_closes_when_the_device_token_expires(self):
        c = self.connect()
        # se 298 s in the past: valid for 2 more seconds under the 5-minute clock-skew allowance.
        _, reply = self.put_token(c, "dev1", token("dev1", expiry=int(time.time()) - 298))
        self.assertEqual(reply.properties["status-code"], 200)
        c.create_sender("devices/dev1/messages/events")
        with self.assertRaises(ConnectionException) as caught:
            c.wait(lambda: False, timeout=EVENT_TIMEOUT, msg="the close on token expiry")
        self.assertIn("unauthorized-access", str(caught.exception))

    def test_sasl_plain_with_a_sas_token(self):
        c = self.connect(user="dev1@sas.myhub", password=token("dev1"),
                         allowed_mechs="PLAIN")
        c.create_sender("devices/dev1/messages/events").send(Message(body=b"p", inferred=True))
        self.assertEqual(self.stored_payloads("iothub/dev1"), [b"p"])
        with self.assertRaises(ConnectionException):
            self.connect(user="dev1@sas.myhub", password=token("dev1", key=OTHER_KEY),
                         allowed_mechs="PLAIN")

    def test_sasl_offers_mssbcbs_and_accepts_it(self):
        with socket.create_connection((LOCALHOST, self.broker.amqp_port), timeout=10) as s:
            s.settimeout(EVENT_TIMEOUT)
            s.sendall(b"AMQP\x03\x01\x00\x00")
            got = b""
            while b"MSSBCBS" not in got:
                chunk = s.recv(4096)
                self.assertTrue(chunk, f"closed before the mechanisms: {got!r}")
                got += chunk
            d = Data()
            d.put_object(Described(ulong(0x41), [symbol("MSSBCBS"), b""]))
            body = d.encode()
            s.sendall(struct.pack(">IBBH", 8 + len(body), 2, 1, 0) + body)
            outcome = b""
            while len(outcome) < 8 or len(outcome) < struct.unpack(">I", outcome[:4])[0]:
                chunk = s.recv(4096)
                self.assertTrue(chunk, "closed before the SASL outcome")
                outcome += chunk
            frame = Data()
            frame.decode(outcome[8:struct.unpack(">I", outcome[:4])[0]])
            described = frame.get_object()
            self.assertEqual(described.descriptor, 0x44)  # sasl-outcome
            self.assertEqual(described.value[0], 0)        # code ok


class QueueConsumerTest(AmqpTest):
    def fill(self, queue_address: str, n: int) -> list:
        s = self.connect().create_sender(queue_address)
        bodies = [payload(self.rng, i, 80) for i in range(n)]
        for b in bodies:
            s.send(Message(body=b, inferred=True))
        return bodies

    def cursor(self, queue: str) -> int:
        q = self.broker.queue(queue)
        return 0 if q is None else q["cursors"].get("local", 0)

    def test_consumer_gets_the_queue_in_order_and_accepting_consumes(self):
        bodies = self.fill("temperature", 30)
        c = self.connect()
        r = c.create_receiver("temperature", credit=10)
        got = []
        for _ in bodies:
            got.append(r.receive(timeout=EVENT_TIMEOUT).body)
            r.accept()
        self.flush(c)
        self.assert_same_payloads(got, bodies, "consumed")
        wait_until(lambda: self.broker.depth("temperature") == 0, EVENT_TIMEOUT,
                   "accepted messages removed from the queue")

    def test_a_waiting_consumer_gets_new_messages(self):
        c = self.connect()
        r = c.create_receiver("iothub/dev5", credit=5)  # a name the device route makes
        body = payload(self.rng, 1, 20)
        self.connect().create_sender("devices/dev5/messages/events").send(
            Message(body=body, inferred=True))
        m = r.receive(timeout=EVENT_TIMEOUT)
        r.accept()
        self.assertEqual(sha(m.body), sha(body))

    def test_competing_consumers_share_the_queue(self):
        bodies = self.fill("temperature", 40)
        c = self.connect()
        # Each keeps 10 credits outstanding (the client tops up as deliveries arrive).
        r1 = c.create_receiver("temperature", credit=10, name="r1")
        r2 = c.create_receiver("temperature", credit=10, name="r2")
        c.wait(lambda: len(r1.fetcher.incoming) + len(r2.fetcher.incoming) == 40,
               timeout=EVENT_TIMEOUT, msg="40 deliveries over two receivers")
        got = {}
        for name, r in (("r1", r1), ("r2", r2)):
            got[name] = []
            while r.fetcher.incoming:
                got[name].append(r.receive(timeout=EVENT_TIMEOUT).body)
                r.accept()
        self.flush(c)
        self.assertTrue(got["r1"] and got["r2"],
                        f"one receiver got nothing: {len(got['r1'])} vs {len(got['r2'])}")
        self.assertEqual(sorted(sha(b) for b in got["r1"] + got["r2"]),
                         sorted(sha(b) for b in bodies))
        wait_until(lambda: self.broker.depth("temperature") == 0, EVENT_TIMEOUT,
                   "all 40 consumed")

    def test_modified_and_released_are_redelivered(self):
        bodies = self.fill("temperature", 2)
        # credit=0: the client grants one credit per receive(), after settling the last one.
        r = self.connect().create_receiver("temperature", credit=0)
        m = r.receive(timeout=EVENT_TIMEOUT)
        self.assertEqual((sha(m.body), m.delivery_count), (sha(bodies[0]), 0))
        r.fetcher.unsettled[0].local.failed = True  # modified, delivery-failed: counted
        r.release(delivered=True)
        m = r.receive(timeout=EVENT_TIMEOUT)
        self.assertEqual((sha(m.body), m.delivery_count), (sha(bodies[0]), 1))
        r.release(delivered=False)  # released: not counted
        m = r.receive(timeout=EVENT_TIMEOUT)
        self.assertEqual((sha(m.body), m.delivery_count), (sha(bodies[0]), 1))
        r.accept()
        m = r.receive(timeout=EVENT_TIMEOUT)
        self.assertEqual(sha(m.body), sha(bodies[1]))
        r.accept()

    def test_rejected_goes_to_the_dead_letter_queue(self):
        bodies = self.fill("temperature", 2)
        c = self.connect()
        r = c.create_receiver("temperature", credit=0)
        r.receive(timeout=EVENT_TIMEOUT)
        r.reject()
        m = r.receive(timeout=EVENT_TIMEOUT)
        self.assertEqual(sha(m.body), sha(bodies[1]))
        r.accept()
        self.flush(c)
        dead = wait_until(lambda: self.broker.peek_all("deadletter/temperature", missing_ok=True),
                          EVENT_TIMEOUT, "the rejected message in deadletter/temperature")
        self.assertEqual([sha(d["payload"]) for d in dead], [sha(bodies[0])])
        self.assertEqual(dead[0]["dead_letter"]["original_queue"], "temperature")
        self.assertEqual(dead[0]["dead_letter"]["original_seq"], 1)
        wait_until(lambda: self.broker.depth("temperature") == 0, EVENT_TIMEOUT,
                   "source queue consumed")

    def test_unsettled_deliveries_of_a_vanished_consumer_go_to_another(self):
        bodies = self.fill("temperature", 3)
        first = self.connect()
        r = first.create_receiver("temperature", credit=3)
        first.wait(lambda: len(r.fetcher.incoming) == 3, timeout=EVENT_TIMEOUT,
                   msg="3 deliveries")
        first.close()  # nothing settled
        r2 = self.connect().create_receiver("temperature", credit=3)
        got = []
        for _ in bodies:
            m = r2.receive(timeout=EVENT_TIMEOUT)
            self.assertEqual(m.delivery_count, 1)
            got.append(m.body)
            r2.accept()
        self.assert_same_payloads(got, bodies, "redelivered")

    def test_accepted_stay_consumed_and_the_rest_stays_after_sigkill(self):
        bodies = self.fill("temperature", 10)
        c = self.connect()
        r = c.create_receiver("temperature", credit=0)
        for _ in range(5):
            r.receive(timeout=EVENT_TIMEOUT)
            r.accept()
        self.flush(c)
        wait_until(lambda: self.cursor("temperature") == 6, EVENT_TIMEOUT,
                   "the consumer's cursor committed past 5")
        self.broker.kill()
        self.broker.restart()
        r = self.connect().create_receiver("temperature", credit=10)
        got = []
        for _ in range(5):
            got.append(r.receive(timeout=EVENT_TIMEOUT).body)
            r.accept()
        self.assert_same_payloads(got, bodies[5:], "after restart")


def amqp_frame(performative: Described) -> bytes:
    d = Data()
    d.put_object(performative)
    body = d.encode()
    return struct.pack(">IBBH", 8 + len(body), 2, 0, 0) + body


def read_until_closed(s: socket.socket, timeout: float) -> tuple[bytes, bool]:
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data, True
            data += chunk
    except socket.timeout:
        return data, False


class IdleTest(AmqpTest):
    BROKER = {"amqp": True, "extra_config": ROUTES, "amqp_listener_config": 'idle_timeout = "1s"'}

    def test_a_connection_that_never_opens_is_closed(self):
        with socket.create_connection((LOCALHOST, self.broker.amqp_port), timeout=10) as s:
            _, closed = read_until_closed(s, EVENT_TIMEOUT)
            self.assertTrue(closed, "a silent connection stayed open")

    def test_a_silent_open_connection_is_closed_after_the_idle_timeout(self):
        with socket.create_connection((LOCALHOST, self.broker.amqp_port), timeout=10) as s:
            s.sendall(b"AMQP\x00\x01\x00\x00" + amqp_frame(Described(ulong(0x10), ["raw"])))
            data, closed = read_until_closed(s, EVENT_TIMEOUT)
            self.assertTrue(closed, "a connection that never sent a frame stayed open")
            self.assertIn(b"idle", data)  # the close frame's description says why
        # Others are untouched, including a client that keeps its connection alive.
        c = self.connect()
        c.create_sender("temperature").send(Message(body=b"alive", inferred=True))


class TlsTest(AmqpTest):
    """AMQPS with a certificate made here by openssl; clients verify it against the test CA."""

    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="holdfast-it-pki-")
        make_test_pki(cls.pki)
        cls.BROKER = {"amqp": True, "extra_config": ROUTES, "amqp_listener_config": f"""
tls = true
cert_file = "{cls.pki}/server.pem"
key_file = "{cls.pki}/server.key"
"""}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pki, ignore_errors=True)

    def test_amqps_with_a_verified_certificate(self):
        domain = SSLDomain(SSLDomain.MODE_CLIENT)
        domain.set_trusted_ca_db(os.path.join(self.pki, "ca.pem"))
        domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
        url = f"amqps://{LOCALHOST}:{self.broker.amqp_port}"
        # The name checked is "localhost" (Proton matches DNS names only, not IP addresses).
        c = BlockingConnection(url, timeout=EVENT_TIMEOUT, ssl_domain=domain,
                               virtual_host="localhost")
        self.addCleanup(self._close, c)
        body = payload(self.rng, 1, 100)
        c.create_sender("temperature").send(Message(body=body, inferred=True))
        self.assertEqual([sha(p) for p in self.stored_payloads("temperature")], [sha(body)])

    def test_plain_amqp_on_the_tls_port_is_refused(self):
        with self.assertRaises(ConnectionException):
            self.connect().create_sender("temperature").send(Message(body=b"x", inferred=True))
        self.assertIsNone(self.broker.queue("temperature"))


DEVSIM = None  # holdfast-devsim: a device speaking AMQP as the Azure C SDK does


class CSdkDeviceTest(CbsTest):
    """The whole IoT Hub dialogue as the Azure IoT C SDK speaks it, by holdfast-devsim (on
    Proton-C): SASL MSSBCBS, put-token with a ulong message-id and no reply-to (it checks the
    reply's correlation-id and status-code types), batched telemetry."""

    def devsim(self, device: str, key: str, count: int, batch: int) -> tuple[int, list, dict]:
        proc = subprocess.run(
            [DEVSIM, "amqp-iothub", "--port", str(self.broker.amqp_port), "--hub-host", HOST,
             "--device", device, "--key", key, "--count", str(count), "--batch", str(batch),
             "--seed", str(self.rng.randrange(2**31))],
            capture_output=True, timeout=60, text=True)
        lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        return proc.returncode, lines[:-1], lines[-1] if lines else {}

    def test_c_sdk_dialogue_with_batches(self):
        rc, sent, summary = self.devsim("dev1", KEY, count=7, batch=3)
        self.assertEqual(rc, 0, summary)
        self.assertEqual((summary["cbs_status"], summary["accepted"]), (200, 7))
        stored = self.broker.peek_all("iothub/dev1")
        self.assertEqual([sha(m["payload"]) for m in stored], [m["sha256"] for m in sent])
        self.assertEqual([m["properties"]["message_id"] for m in stored],
                         [m["message_id"] for m in sent])
        self.assertTrue(all(m["origin"]["device_id"] == "dev1" for m in stored))

    def test_c_sdk_with_a_wrong_key_is_refused(self):
        rc, _, summary = self.devsim("dev1", OTHER_KEY, count=1, batch=1)
        self.assertEqual(rc, 3, summary)
        self.assertEqual(summary["cbs_status"], 401)
        self.assertIsNone(self.broker.queue("iothub/dev1"))

    # The CbsTest cases are not repeated here.
    test_put_token_reply_keeps_the_request_id_type = None
    test_bad_signature_gets_401_and_the_link_is_refused = None
    test_token_then_telemetry = None
    test_unlisted_device_is_passed_through_while_its_token_is_valid = None
    test_sasl_plain_with_a_sas_token = None
    test_sasl_offers_mssbcbs_and_accepts_it = None
    test_connection_closes_when_the_device_token_expires = None


def main():
    global DEVSIM
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holdfastd", required=True, help="path of the holdfastd binary")
    parser.add_argument("--devsim", required=True, help="path of the holdfast-devsim binary")
    args, rest = parser.parse_known_args()
    test_mqtt.HOLDFASTD = os.path.abspath(args.holdfastd)
    DEVSIM = os.path.abspath(args.devsim)
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
