#!/usr/bin/python3
"""Integration tests of holdfastd's MQTT listener with clients nobody here wrote.

Clients: mosquitto_pub / mosquitto_sub (Debian mosquitto-clients), paho-mqtt 1.6 (Debian
python3-paho-mqtt), and a raw socket for bytes no well-behaved client sends. Every test gets
its own holdfastd on free ports with a fresh store (see harness.py) and ends by stopping it with
SIGTERM, which must exit 0.

Run:  /usr/bin/python3 test/integration/test_mqtt.py --holdfastd build/.../holdfastd [-v] [-k NAME]
      (HOLDFAST_IT_SEED=N replays the random payloads of a run; the seed is printed.)
On a failure the test's directory (config, store, holdfastd.log) is kept and its path printed.

Loss, duplication, reordering and corruption are detected with sequence-numbered random binary
payloads (always containing NUL bytes) compared by SHA-256. Nothing waits with a fixed sleep:
messages, acknowledgements, SUBACKs and socket closes are awaited as events with deadlines, and
broker-side state (connections, queue depth) is polled through the admin API with deadlines.
"""

import argparse
import collections
import os
import random
import shutil
import sys
import tempfile
import threading
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    CONNACK_ACCEPTED, EVENT_TIMEOUT, SEED, Holdfastd, MosquittoSub, PahoClient, RawClient,
    connect_packet, mosquitto_pub, mqtt_str, packet, paho, payload, publish_packet,
    remaining_length, sha, v5_properties, wait_published, wait_until)
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.subscribeoptions import SubscribeOptions  # noqa: E402

HOLDFASTD = None  # set by main()


class BrokerTest(unittest.TestCase):
    """Starts a holdfastd per test; stops it (SIGTERM, exit status 0 required) at the end."""

    BROKER: dict = {}  # keyword arguments of Holdfastd

    def setUp(self):
        self.rng = random.Random(f"{SEED}/{self.id()}")
        self.workdir = tempfile.mkdtemp(prefix="holdfast-it-")
        self.broker = Holdfastd(HOLDFASTD, self.workdir, **self.BROKER)
        self.addCleanup(self._finish)  # registered first: runs after every client is closed
        self.broker.start()

    def _finish(self):
        problem = None
        if self.broker.running:
            rc = self.broker.stop()
            if rc != 0:
                problem = f"holdfastd exited with status {rc} on SIGTERM at the end of the test"
        elif self.broker.proc is not None and not self.broker.expected_exit:
            problem = (f"holdfastd died during the test (status {self.broker.proc.returncode})")
        failed = problem is not None or self._has_failed()
        if failed:
            sys.stderr.write(f"\n[{self.id()}] seed {SEED}; kept {self.workdir}\n"
                             f"{self.broker.diagnostics()}\n")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if problem:
            self.fail(problem + "\n" + self.broker.diagnostics())

    def _has_failed(self) -> bool:
        # unittest reports a failure to the result at once; _outcome.success cannot be used
        # here because a cleanup runs in its own "part" with success reset.
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return False
        return any(t is self for t, _ in list(result.failures) + list(result.errors))

    # -- clients, closed at the end of the test --

    @property
    def port(self) -> int:
        return self.broker.mqtt_port

    def paho(self, client_id: str, connect: bool = True, **kwargs) -> PahoClient:
        c = PahoClient(self.port, client_id, **kwargs)
        self.addCleanup(c.close)
        if connect:
            c.connect()
        return c

    def msub(self, filters: list, qos: int = 0, client_id: str = "msub",
             extra: tuple = ()) -> MosquittoSub:
        s = MosquittoSub(self.port, filters, qos, client_id, extra)
        self.addCleanup(s.close)
        s.wait_subscribed()
        return s

    def raw(self) -> RawClient:
        r = RawClient(self.port)
        self.addCleanup(r.close)
        return r

    def pub(self, topic: str, data: bytes, qos: int = 0, **kwargs) -> str:
        return mosquitto_pub(self.port, topic, data, qos, **kwargs)

    # -- assertions --

    def assert_same_payloads(self, got: list, expected: list, what: str):
        """Same payloads, same order, compared by SHA-256, with a diagnosis on mismatch."""
        got_h = [sha(p) for p in got]
        exp_h = [sha(p) for p in expected]
        if got_h == exp_h:
            return
        exp_set, got_set = set(exp_h), set(got_h)
        missing = [i for i, h in enumerate(exp_h) if h not in got_set]
        unknown = [i for i, h in enumerate(got_h) if h not in exp_set]
        dups = [h for h, n in collections.Counter(got_h).items() if n > 1]
        first = next((i for i, (a, b) in enumerate(zip(got_h, exp_h)) if a != b),
                     min(len(got_h), len(exp_h)))
        self.fail(f"{what}: got {len(got)} payloads, expected {len(expected)}; "
                  f"missing (by index) {missing[:10]}{'...' if len(missing) > 10 else ''}; "
                  f"{len(dups)} duplicated; {len(unknown)} unknown or corrupt (indexes "
                  f"{unknown[:10]}); first difference at index {first}")

    def assert_closed(self, raw: RawClient, what: str, expect_bytes: bytes = b"") -> None:
        data, closed = raw.read_until_closed(EVENT_TIMEOUT)
        self.assertTrue(closed, f"{what}: holdfastd did not close the connection within "
                                f"{EVENT_TIMEOUT:.0f}s (read {data.hex()})")
        self.assertEqual(data.hex(), expect_bytes.hex(), f"{what}: bytes sent before closing")

    def stored_payloads(self, queue: str) -> list:
        return [m["payload"] for m in self.broker.peek_all(queue)]


# ---- 1. durable ingress --------------------------------------------------------------------------


class DurableIngressTest(BrokerTest):

    def test_qos012_publishes_land_in_the_per_device_queue(self):
        devices = ["dev-a", "dev-b"]
        acked = {d: [] for d in devices}   # QoS 1/2: (topic, payload, client id), in order
        qos0 = {d: [] for d in devices}    # QoS 0: separate connections, so no order between them
        seq = 0
        for qos in (1, 2, 0):
            for i in range(3):
                for d in devices:
                    seq += 1
                    topic = f"devices/{d}/messages/events"
                    if qos == 1 and i == 1:
                        topic += "/%24.ct=application%2Foctet-stream"  # a property tail
                    empty = qos == 1 and i == 2 and d == "dev-b"  # one empty payload
                    size = 0 if empty else self.rng.randrange(1, 3000)
                    data = payload(self.rng, seq, size) if size else b""
                    cid = f"{d}-q{qos}-{i}"
                    self.pub(topic, data, qos, client_id=cid)
                    if qos == 0:
                        qos0[d].append((topic, data, cid))
                        continue
                    acked[d].append((topic, data, cid))
                    # Acknowledged means durable: it must be readable at once, without waiting.
                    stored = self.broker.peek_all(f"iothub/{d}")
                    self.assertTrue(stored, f"q{qos} publish acknowledged, iothub/{d} empty")
                    self.assertEqual(sha(stored[-1]["payload"]), sha(data),
                                     f"q{qos} publish acknowledged before it was readable")
        for d in devices:
            want = len(acked[d]) + len(qos0[d])
            wait_until(lambda: self.broker.depth(f"iothub/{d}") >= want, EVENT_TIMEOUT,
                       f"{want} messages in iothub/{d}")
        self.assertEqual(sorted(q["name"] for q in self.broker.message_queues()),
                         ["iothub/dev-a", "iothub/dev-b"], "one queue per device, nothing else")
        for d in devices:
            q = self.broker.queue(f"iothub/{d}")
            stored = self.broker.peek_all(f"iothub/{d}")
            self.assertEqual(q["depth"], len(acked[d]) + len(qos0[d]))
            self.assertEqual(len(stored), q["depth"])
            self.assertEqual([m["seq"] for m in stored], list(range(1, len(stored) + 1)))
            n = len(acked[d])
            self.assert_same_payloads([m["payload"] for m in stored[:n]],
                                      [p for _, p, _ in acked[d]], f"iothub/{d} QoS 1/2 part")
            self.assertEqual(sorted(sha(m["payload"]) for m in stored[n:]),
                             sorted(sha(p) for _, p, _ in qos0[d]), f"iothub/{d} QoS 0 part")
            by_sha = {sha(p): (t, c) for t, p, c in acked[d] + qos0[d]}
            for m in stored:
                topic, cid = by_sha[sha(m["payload"])]
                self.assertEqual(m["address"], topic)
                self.assertEqual(m["origin"]["protocol"], "mqtt")
                self.assertEqual(m["origin"]["client_id"], cid)
                self.assertEqual(m["origin"]["device_id"], d)

    def test_unrouted_publish_reaches_subscriber_and_is_not_stored(self):
        sub = self.paho("watcher")
        self.assertEqual(sub.subscribe([("telemetry/#", 1)]), [1])
        data = payload(self.rng, 1, 1500)
        self.pub("telemetry/room1", data, 1)
        got = sub.inbox.wait_count(1)
        self.assertEqual((got[0].topic, sha(got[0].payload)), ("telemetry/room1", sha(data)))
        # No subscriber either: still acknowledged (3.1.1 cannot refuse), dropped and counted.
        self.pub("nowhere/at/all", b"lost", 1)
        self.assertEqual(self.broker.message_queues(), [], "an unrouted message was stored")
        self.assertEqual(
            self.broker.metric("holdfast_dropped_messages_total", reason="no-route"), 1)
        self.assertEqual(len(sub.inbox.snapshot()), 1)


# ---- 2. live delivery ----------------------------------------------------------------------------


class LiveDeliveryTest(BrokerTest):

    def test_wildcards_with_mosquitto_sub(self):
        sub = self.msub(["home/+/temp", "home/kitchen/#"], qos=1, client_id="wild")
        self.assertEqual(sub.granted, [1, 1])
        pub = self.paho("wild-pub")
        topics = ["home/kitchen/temp",         # both filters: one copy
                  "home/hall/temp",            # +
                  "home/kitchen",              # '#' also matches the parent level
                  "home/kitchen/light/level",  # '#' several levels
                  "home/hall/light",           # neither
                  "home",                      # neither
                  "home/hall/temp/x",          # '+' is one level only
                  "homes/kitchen/temp",        # neither
                  "home/kitchen/zz-end"]
        sent = {}
        for i, t in enumerate(topics):
            sent[t] = payload(self.rng, i, self.rng.randrange(0, 500))
            pub.publish_wait(t, sent[t], 1)
        got = sub.inbox.wait_topic("home/kitchen/zz-end")
        expected = ["home/kitchen/temp", "home/hall/temp", "home/kitchen",
                    "home/kitchen/light/level", "home/kitchen/zz-end"]
        self.assertEqual([m.topic for m in got], expected)
        for m in got:
            self.assertEqual(sha(m.payload), sha(sent[m.topic]), m.topic)

    def test_wildcards_and_qos_downgrade_with_paho(self):
        sub = self.paho("down-sub")
        self.assertEqual(sub.subscribe([("down/0/#", 0), ("down/1/+", 1), ("down/2/#", 2)]),
                         [0, 1, 2])
        msub = self.msub(["down/#"], qos=1, client_id="down-msub")
        pub = self.paho("down-pub")
        sent = {}
        for s in range(3):
            for p in range(3):
                t = f"down/{s}/p{p}"
                sent[t] = (payload(self.rng, s * 3 + p, 200), p)
                pub.publish_wait(t, sent[t][0], p)
        pub.publish_wait("down/1/a/b", b"two levels under +", 1)
        pub.publish_wait("down/2/end", b"end", 2)
        got = sub.inbox.wait_topic("down/2/end")
        self.assertEqual(sorted(m.topic for m in got), sorted(list(sent) + ["down/2/end"]),
                         "'down/1/+' must not match 'down/1/a/b'; each topic exactly once")
        for m in got[:-1]:
            data, pqos = sent[m.topic]
            s = int(m.topic.split("/")[1])
            self.assertEqual(sha(m.payload), sha(data), m.topic)
            self.assertEqual(m.qos, min(s, pqos), f"{m.topic}: delivered QoS")
        mgot = msub.inbox.wait_topic("down/2/end")
        self.assertEqual(len(mgot), 11)
        for m in mgot:
            extra = {"down/1/a/b": 1, "down/2/end": 2}
            pqos = sent[m.topic][1] if m.topic in sent else extra[m.topic]
            self.assertEqual(m.qos, min(1, pqos), f"mosquitto_sub -q 1, {m.topic}: delivered QoS")

    def test_overlapping_subscriptions_deliver_one_copy_at_the_highest_qos(self):
        sub = self.paho("overlap")
        self.assertEqual(sub.subscribe([("over/#", 0), ("over/+", 2), ("+/x", 1)]), [0, 2, 1])
        pub = self.paho("overlap-pub")
        pub.publish_wait("over/x", b"three filters match", 2)
        pub.publish_wait("over/y/z", b"only over/#", 2)
        # Paho hands a QoS 2 message to the application at PUBREL, so the QoS 0 "over/y/z" may
        # overtake "over/x" there although the broker sent over/x's PUBLISH first. Any extra
        # copy of over/x would have been sent (and handed over: QoS 0/1) before over/y/z.
        got = sub.inbox.wait_for(lambda ms: {m.topic for m in ms} >= {"over/x", "over/y/z"},
                                 EVENT_TIMEOUT, "over/x and over/y/z")
        self.assertEqual(sorted((m.topic, m.qos) for m in got), [("over/x", 2), ("over/y/z", 0)])

    def test_dollar_topics_not_matched_by_wildcards(self):
        everything = self.paho("everything")
        everything.subscribe([("#", 1), ("+/info", 1)])
        dollar = self.paho("dollar")
        dollar.subscribe([("$test/#", 1)])
        pub = self.paho("dollar-pub")
        pub.publish_wait("$test/info", b"internal", 1)
        # The explicit $ subscriber proves the message was published and routed.
        self.assertEqual([m.topic for m in dollar.inbox.wait_count(1)], ["$test/info"])
        pub.publish_wait("plain/info", b"marker", 1)
        got = everything.inbox.wait_topic("plain/info")
        self.assertEqual([m.topic for m in got], ["plain/info"],
                         "'#' and '+/info' must not match '$test/info'; one copy per subscriber")
        # Nor when retained messages are sent on subscribe.
        pub.publish_wait("$test/retained", b"internal", 1, retain=True)
        pub.publish_wait("plain/retained", b"public", 1, retain=True)
        late = self.paho("late")
        late.subscribe([("#", 1)])
        got = late.inbox.wait_topic("plain/retained")
        self.assertEqual([(m.topic, m.retain) for m in got], [("plain/retained", True)])

    def test_unsubscribe_stops_delivery(self):
        sub = self.paho("unsub")
        sub.subscribe([("unsub/a", 1), ("unsub/b", 1)])
        pub = self.paho("unsub-pub")
        pub.publish_wait("unsub/a", b"first", 1)
        sub.inbox.wait_topic("unsub/a")
        sub.unsubscribe(["unsub/a"])
        pub.publish_wait("unsub/a", b"after unsubscribe", 1)
        pub.publish_wait("unsub/b", b"marker", 1)   # same connection: processed after the above
        got = sub.inbox.wait_topic("unsub/b")
        self.assertEqual([(m.topic, m.payload) for m in got],
                         [("unsub/a", b"first"), ("unsub/b", b"marker")])


# ---- 3. QoS 2 exactly once -----------------------------------------------------------------------


class ExactlyOnceTest(BrokerTest):

    def test_qos2_exactly_once_in_order_to_subscribers(self):
        n = 200
        sub = self.paho("eo-sub")
        self.assertEqual(sub.subscribe([("eo/#", 2)]), [2])
        msub = self.msub(["eo/#"], qos=2, client_id="eo-msub")
        pub = self.paho("eo-pub", max_inflight=20)
        datas = [payload(self.rng, i, self.rng.randrange(0, 1024)) for i in range(n)]
        infos = [pub.publish("eo/data", d, 2) for d in datas]
        wait_published(infos, 120, "QoS 2 publishes")
        pub.publish_wait("eo/end", b"end", 2)
        for inbox in (sub.inbox, msub.inbox):
            got = inbox.wait_topic("eo/end", 60)
            self.assertEqual(got[-1].topic, "eo/end", f"{inbox.name}: messages after the end")
            self.assert_same_payloads([m.payload for m in got[:-1]], datas, inbox.name)
            self.assertEqual({m.qos for m in got}, {2}, f"{inbox.name}: delivered QoS")

    def test_qos2_retransmitted_publish_is_stored_once(self):
        r = self.raw()
        r.connect(b"raw-q2")
        topic = b"devices/q2dev/messages/events"
        first, second = payload(self.rng, 1, 300), payload(self.rng, 2, 300)
        r.send(publish_packet(topic, first, qos=2, packet_id=7))
        self.assertEqual(r.recv_exact(4).hex(), "50020007", "PUBREC")
        r.send(publish_packet(topic, first, qos=2, packet_id=7, dup=True))  # PUBREC was "lost"
        self.assertEqual(r.recv_exact(4).hex(), "50020007", "PUBREC for the DUP")
        r.send(bytes.fromhex("62020007"))  # PUBREL
        self.assertEqual(r.recv_exact(4).hex(), "70020007", "PUBCOMP")
        # After PUBCOMP the packet id is free again: a new message with it is a new message.
        r.send(publish_packet(topic, second, qos=2, packet_id=7))
        self.assertEqual(r.recv_exact(4).hex(), "50020007")
        r.send(bytes.fromhex("62020007"))
        self.assertEqual(r.recv_exact(4).hex(), "70020007")
        self.assert_same_payloads(self.stored_payloads("iothub/q2dev"), [first, second],
                                  "QoS 2 with a DUP retransmission")


# ---- 4. retained messages ------------------------------------------------------------------------


class RetainedTest(BrokerTest):

    def test_retained_delivered_replaced_and_cleared(self):
        topic = "ret/state"
        a, b = payload(self.rng, 1, 100), payload(self.rng, 2, 100)
        self.pub(topic, a, 1, retain=True)
        s1 = self.msub(["ret/#"], qos=1, client_id="ret-s1")
        got = s1.inbox.wait_count(1)
        self.assertEqual((got[0].topic, sha(got[0].payload), got[0].retain, got[0].qos),
                         (topic, sha(a), True, 1), "retained message on subscribe")
        # Replaced: a live subscriber gets it without the retain flag (MQTT-3.3.1-9).
        self.pub(topic, b, 1, retain=True)
        got = s1.inbox.wait_count(2)
        self.assertEqual((sha(got[1].payload), got[1].retain), (sha(b), False))
        # A new subscriber gets only the newest, at its own (lower) QoS, with the retain flag.
        s2 = self.paho("ret-s2")
        s2.subscribe([("ret/+", 0)])
        self.pub("ret/marker", b"not retained", 1)
        got = s2.inbox.wait_topic("ret/marker")
        self.assertEqual([(m.topic, sha(m.payload), m.retain, m.qos) for m in got],
                         [(topic, sha(b), True, 0), ("ret/marker", sha(b"not retained"), False, 0)])
        # Cleared by an empty retained publish, which still reaches live subscribers
        # (MQTT-3.3.1-10).
        self.pub(topic, b"", 1, retain=True)
        got = s1.inbox.wait_count(4)
        self.assertEqual([(m.topic, m.payload) for m in got[2:]],
                         [("ret/marker", b"not retained"), (topic, b"")])
        s3 = self.msub(["ret/#"], qos=1, client_id="ret-s3")
        self.pub("ret/marker2", b"end", 1)
        got = s3.inbox.wait_topic("ret/marker2")
        self.assertEqual([m.topic for m in got], ["ret/marker2"], "nothing retained any more")


    def test_retained_message_survives_restart(self):
        # Retained messages are kept in the store ($mqtt/retained, persistence.h).
        a, b = payload(self.rng, 1, 300), payload(self.rng, 2, 300)
        self.pub("keep/a", a, 1, retain=True)
        self.pub("keep/b", b, 1, retain=True)
        self.pub("keep/b", b"", 1, retain=True)  # cleared before the restart
        self.assertEqual(self.broker.stop(), 0)
        self.broker.restart()
        sub = self.msub(["keep/#"], qos=1, client_id="after-restart")
        self.pub("keep/marker", b"end", 1)
        got = sub.inbox.wait_topic("keep/marker")
        self.assertEqual([(m.topic, sha(m.payload), m.retain) for m in got],
                         [("keep/a", sha(a), True), ("keep/marker", sha(b"end"), False)])


# ---- 5. last will --------------------------------------------------------------------------------


# ---- 9. bad input --------------------------------------------------------------------------------


# Bytes that are not MQTT at all (sent as the first bytes of a connection).
GARBAGE = {
    "reserved packet type 0": b"\x00GARBAGE\xff\xfe\x00\x00",
    "random bytes": b"\xf5" + random.Random(SEED).randbytes(200),
    "remaining length over 4 bytes": b"\x10\xff\xff\xff\xff\x7f",
    "HTTP request": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
}
# Packets a client must not send (sent after an accepted CONNECT).
MALFORMED_AFTER_CONNECT = {
    "PUBLISH with QoS 3": packet(0x36, mqtt_str(b"ok/x") + b"\x00\x01x"),
    "SUBSCRIBE with wrong header flags": packet(0x80, b"\x00\x01" + mqtt_str(b"a/b") + b"\x01"),
    "SUBSCRIBE with no filter": packet(0x82, b"\x00\x01"),
    "topic length past the packet end": packet(0x30, b"\x00\x50ok/x"),
    "wildcard in a PUBLISH topic": publish_packet(b"ok/+", b"x", qos=1),
    "invalid UTF-8 in a topic": publish_packet(b"ok/\xc3\x28", b"x", qos=1),
    "PUBLISH QoS 1 with packet id 0": publish_packet(b"ok/x", b"x", qos=1, packet_id=0),
    "second CONNECT": connect_packet(b"again"),
    "CONNACK (server-to-client only)": CONNACK_ACCEPTED,
}
# Valid packets, but not CONNECT, as the first packet of a connection.
NOT_CONNECT_FIRST = {
    "PINGREQ": b"\xc0\x00",
    "PUBLISH": publish_packet(b"devices/sneaky/messages/events", b"x", qos=1),
    "SUBSCRIBE": packet(0x82, b"\x00\x01" + mqtt_str(b"#") + b"\x01"),
    "DISCONNECT": b"\xe0\x00",
}


class BadInputTest(BrokerTest):
    BROKER = {"max_packet_bytes": "4KiB"}

    def good_client(self) -> PahoClient:
        good = self.paho("good")
        self.assertEqual(good.subscribe([("ok/#", 1), ("bad/will", 1)]), [1, 1])
        return good

    def assert_still_working(self, good: PahoClient, tag: str):
        good.publish_wait(f"ok/{tag}", tag.encode(), 1)
        good.inbox.wait_topic(f"ok/{tag}")
        self.assertIsNone(good.disconnected_rc, f"the good client was disconnected ({tag})")

    def test_garbage_and_malformed_packets_close_only_that_connection(self):
        good = self.good_client()
        for i, (name, data) in enumerate(GARBAGE.items()):
            r = self.raw()
            r.send(data)
            self.assert_closed(r, name)
            self.assert_still_working(good, f"garbage-{i}")
        for i, (name, data) in enumerate(MALFORMED_AFTER_CONNECT.items()):
            r = self.raw()
            word = f"will-{i}".encode()
            r.connect(f"bad-{i}".encode(), will=(b"bad/will", word, 1, False))
            r.send(data)
            self.assert_closed(r, name)
            # Closed for a protocol error, not by the client: the will goes out.
            got = good.inbox.wait_for(lambda ms: any(m.payload == word for m in ms),
                                      EVENT_TIMEOUT, f"the will of the connection sent {name!r}")
            self.assertEqual([m.topic for m in got if m.payload == word], ["bad/will"])
            self.assert_still_working(good, f"malformed-{i}")
        self.assertEqual([m for m in good.inbox.snapshot() if m.topic in ("ok/x", "ok/+")], [],
                         "a malformed PUBLISH was delivered")
        self.assertEqual(self.broker.message_queues(), [])

    def test_every_connection_closed_for_bad_input_is_counted(self):
        # holdfast_protocol_errors_total: "Connections closed because of malformed or forbidden
        # input": one per such connection, whatever the kind of bad input.
        errors = lambda: self.broker.metric("holdfast_protocol_errors_total", protocol="mqtt")
        not_counted = []
        cases = [(f"garbage: {k}", False, v) for k, v in GARBAGE.items()] + \
                [(f"after CONNECT: {k}", True, v) for k, v in MALFORMED_AFTER_CONNECT.items()] + \
                [(f"first packet: {k}", False, v) for k, v in NOT_CONNECT_FIRST.items()]
        for i, (name, connect_first, data) in enumerate(cases):
            before = errors()
            r = self.raw()
            if connect_first:
                r.connect(f"counted-{i}".encode())
            r.send(data)
            self.assert_closed(r, name)
            if errors() != before + 1:
                not_counted.append(name)
        self.assertEqual(not_counted, [], "connections closed for bad input but not counted")

    def test_first_packet_not_connect_closes_the_connection(self):
        sub = self.paho("sneak-watch")
        sub.subscribe([("devices/#", 1)])
        for name, data in NOT_CONNECT_FIRST.items():
            r = self.raw()
            r.send(data)
            self.assert_closed(r, f"{name} before CONNECT")
        self.assertIsNone(self.broker.queue("iothub/sneaky"))
        self.pub("devices/fine/messages/events", b"marker", 1)
        self.assertEqual([m.payload for m in sub.inbox.wait_count(1)], [b"marker"])

    def test_empty_client_id_without_clean_session_gets_connack_2(self):
        r = self.raw()
        r.send(connect_packet(b"", clean=False))
        self.assert_closed(r, "empty client id, clean session 0", bytes.fromhex("20020002"))
        # Control: with clean session 1 the broker assigns an id.
        ok = self.raw()
        ok.send(connect_packet(b"", clean=True))
        self.assertEqual(ok.recv_exact(4).hex(), CONNACK_ACCEPTED.hex())
        # MQTT 3.1: an id is required, of at most 23 bytes.
        for cid in (b"", b"x" * 24):
            r = self.raw()
            r.send(connect_packet(cid, clean=True, level=3, name=b"MQIsdp"))
            self.assert_closed(r, f"MQTT 3.1 client id of {len(cid)} bytes",
                               bytes.fromhex("20020002"))

    def test_unsupported_protocol_level_gets_connack_1(self):
        for level in (2, 6, 0x7F):
            r = self.raw()
            r.send(connect_packet(b"future", level=level))
            self.assert_closed(r, f"protocol level {level}", bytes.fromhex("20020001"))
        # Control: MQTT 3.1 ("MQIsdp", level 3) is spoken.
        ok = self.raw()
        ok.send(connect_packet(b"old", level=3, name=b"MQIsdp"))
        self.assertEqual(ok.recv_exact(4).hex(), CONNACK_ACCEPTED.hex())

    def test_packet_over_max_packet_bytes_closes_only_that_connection(self):
        good = self.good_client()
        big = self.paho("big")
        info = big.publish("devices/big/messages/events", payload(self.rng, 1, 8000), 1)
        self.assertNotEqual(big.wait_disconnected(), 0)
        self.assertFalse(info.is_published(), "a packet over max_packet_bytes was acknowledged")
        # The header alone is enough to refuse it: the announced 1 MiB body is never sent.
        r = self.raw()
        r.connect(b"raw-big")
        r.send(b"\x30" + remaining_length(1 << 20))
        self.assert_closed(r, "PUBLISH header announcing 1 MiB")
        # Just under the limit is fine.
        data = payload(self.rng, 2, 3900)
        good.publish_wait("devices/ok/messages/events", data, 1)
        self.assert_same_payloads(self.stored_payloads("iothub/ok"), [data], "iothub/ok")
        self.assertIsNone(self.broker.queue("iothub/big"))
        self.assert_still_working(good, "after-big")


# ---- 10. MQTT 5 ----------------------------------------------------------------------------------


class Mqtt5Test(BrokerTest):

    def test_v5_user_properties_and_content_type_stored_and_delivered(self):
        sub = self.paho("v5-sub", protocol=paho.MQTTv5)
        props = sub.connack["properties"]
        self.assertEqual(getattr(props, "MaximumPacketSize", None), 512 * 1024)
        self.assertEqual(sub.subscribe([("devices/+/messages/events", SubscribeOptions(qos=1))]),
                         [1])
        pub = self.paho("v5-pub", protocol=paho.MQTTv5)
        user = [("app", "holdfast"), ("k", "v1"), ("k", "v2"), ("empty", "")]
        publish_props = v5_properties(PacketTypes.PUBLISH, UserProperty=user,
                                      ContentType="application/x-tea", CorrelationData=b"corr-42")
        data = payload(self.rng, 1, 700)
        pub.publish_wait("devices/v5dev/messages/events", data, 1, properties=publish_props)
        stored = self.broker.peek_all("iothub/v5dev")
        self.assertEqual(len(stored), 1)
        self.assertEqual(sha(stored[0]["payload"]), sha(data))
        self.assertEqual(stored[0]["properties"]["content_type"], "application/x-tea")
        self.assertEqual([tuple(kv) for kv in stored[0]["properties"]["user"]], user,
                         "user properties: all, in order, repeats kept")
        self.assertEqual(stored[0]["properties"]["correlation_id"], "corr-42")
        got = sub.inbox.wait_count(1)
        m = got[0]
        self.assertEqual((m.topic, sha(m.payload), m.qos),
                         ("devices/v5dev/messages/events", sha(data), 1))
        self.assertEqual(getattr(m.properties, "UserProperty", None), user)
        self.assertEqual(getattr(m.properties, "ContentType", None), "application/x-tea")
        self.assertEqual(getattr(m.properties, "CorrelationData", None), b"corr-42")


# ---- 11. graceful shutdown -----------------------------------------------------------------------


class ShutdownTest(BrokerTest):

    def test_sigterm_with_publisher_connected_keeps_every_acknowledged_message(self):
        pub = self.paho("steady", max_inflight=16)
        rng = random.Random(self.rng.random())
        sent = []  # (payload, MQTTMessageInfo), in publish order
        stop = threading.Event()

        def publish_forever():
            i = 0
            while not stop.is_set() and i < 50000:
                data = payload(rng, i, rng.randrange(16, 512))
                sent.append((data, pub.publish("devices/steady/messages/events", data, 1)))
                i += 1
                if i > 64:  # at most 64 unacknowledged: pace by acknowledgements
                    sent[i - 65][1].wait_for_publish(0.5)

        thread = threading.Thread(target=publish_forever, daemon=True)
        thread.start()
        try:
            wait_until(lambda: len(sent) > 200, 60, "200 publishes")
            sent[200][1].wait_for_publish(60)
            self.assertTrue(sent[200][1].is_published(), "publisher not acknowledged")
            rc = self.broker.stop()  # SIGTERM while it keeps publishing
        finally:
            stop.set()
            thread.join(60)
        self.assertEqual(rc, 0, "exit status after SIGTERM")
        self.assertTrue(pub.wait_disconnected() is not None)
        acked = 0
        while acked < len(sent) and sent[acked][1].is_published():
            acked += 1
        self.assertEqual(sum(1 for _, info in sent if info.is_published()), acked,
                         "acknowledgements out of order")
        pub.close()
        self.broker.restart()
        stored = self.stored_payloads("iothub/steady")
        self.assertGreaterEqual(len(stored), acked,
                                f"{acked} acknowledged, {len(stored)} stored after SIGTERM")
        self.assert_same_payloads(stored, [d for d, _ in sent[:len(stored)]],
                                  "stored after SIGTERM (a prefix of what was sent)")


    def test_sigterm_while_messages_are_queued_for_an_offline_session(self):
        keeper = self.paho("offline", clean_session=False)
        keeper.subscribe([("queued/#", 1)])
        keeper.disconnect()
        self.broker.wait_client_gone("offline")
        # Keep the store busy with the session's copies while SIGTERM arrives.
        pub = self.paho("queuer", max_inflight=100)
        infos = [pub.publish("queued/data", payload(self.rng, i, 200), 1) for i in range(1000)]
        wait_published(infos[:100], 60, "the first 100 publishes")
        self.assertEqual(self.broker.stop(), 0, "exit status after SIGTERM")


# ---- 12. admin endpoint --------------------------------------------------------------------------


class AdminTest(BrokerTest):

    def test_healthz_metrics_and_connections(self):
        self.assertEqual(self.broker.http_get("/healthz"), (200, b"ok\n"))
        self.assertEqual(self.broker.http_get("/readyz")[0], 200)
        c = self.paho("admin-client")
        conns = [x for x in self.broker.connections() if x["client_id"] == "admin-client"]
        self.assertEqual(len(conns), 1, self.broker.connections())
        self.assertEqual(conns[0]["protocol"], "mqtt/3.1.1")
        self.assertTrue(conns[0]["peer"].startswith("127.0.0.1:"), conns[0])
        for i in range(5):
            c.publish_wait("devices/adm/messages/events", payload(self.rng, i, 100), 1)
        c.publish("nowhere/x", b"a", 0)
        c.publish("nowhere/y", b"b", 0)
        # Same connection, in order: once this one is acknowledged the QoS 0 ones were handled.
        c.publish_wait("devices/adm/messages/events", payload(self.rng, 5, 100), 1)
        m = self.broker.metric
        self.assertEqual(m("holdfast_queue_depth", queue="iothub/adm"), 6)
        self.assertEqual(m("holdfast_ingress_messages_total", protocol="mqtt"), 8)
        self.assertEqual(m("holdfast_dropped_messages_total", reason="no-route"), 2)
        self.assertEqual(m("holdfast_connections", protocol="mqtt"), 1)
        self.assertEqual(self.broker.depth("iothub/adm"), 6)
        status = self.broker.get_json("/api/status")
        self.assertEqual([(l["protocol"], l["port"]) for l in status["listeners"]],
                         [("mqtt", self.port)])
        self.assertEqual(self.broker.peek("no/such/queue")[0], 404)
        c.disconnect()
        self.broker.wait_client_gone("admin-client")
        self.assertEqual(m("holdfast_connections", protocol="mqtt"), 0)


def main():
    global HOLDFASTD
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holdfastd", required=True, help="path of the holdfastd binary")
    args, rest = parser.parse_known_args()
    HOLDFASTD = os.path.abspath(args.holdfastd)
    if not os.access(HOLDFASTD, os.X_OK):
        parser.error(f"{HOLDFASTD} is not an executable")
    sys.stderr.write(f"holdfastd: {HOLDFASTD}\nseed: {SEED} (HOLDFAST_IT_SEED={SEED} replays it)\n")
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
