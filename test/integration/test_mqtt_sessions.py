#!/usr/bin/python3
"""Integration tests of holdfastd's MQTT sessions: last wills, session takeover, persistent
sessions (across disconnects and restarts) and durability across crashes. Same clients, same
rules as test_mqtt.py, whose BrokerTest every case here uses.

Run:  /usr/bin/python3 test/integration/test_mqtt_sessions.py --holdfastd build/.../holdfastd
"""
import argparse
import os
import socket
import struct
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_mqtt  # noqa: E402
from harness import (  # noqa: E402
    EVENT_TIMEOUT, SEED, PahoClient, connect_packet, payload, publish_packet, sha,
    subscribe_packet, wait_published)
from test_mqtt import BrokerTest  # noqa: E402


class WillTest(BrokerTest):

    def watcher(self) -> PahoClient:
        w = self.paho("will-watcher")
        self.assertEqual(w.subscribe([("will/#", 1)]), [1])
        return w

    def assert_one_will(self, watcher: PahoClient, topic: str, data: bytes, timeout=EVENT_TIMEOUT):
        got = watcher.inbox.wait_topic(topic, timeout)
        wills = [m for m in got if m.topic == topic]
        self.assertEqual(len(wills), 1, f"will on {topic} published {len(wills)} times")
        self.assertEqual((sha(wills[0].payload), wills[0].qos, wills[0].retain),
                         (sha(data), 1, False))

    def test_will_on_abrupt_socket_close(self):
        watcher = self.watcher()
        data = payload(self.rng, 1, 200)
        dying = self.paho("dying", will=("will/dying", data, 1, False))
        dying.drop_socket()
        self.assert_one_will(watcher, "will/dying", data)
        self.broker.wait_client_gone("dying")

    def test_retained_will(self):
        dying = self.paho("dying-retained", will=("will/retained", b"last words", 1, True))
        dying.drop_socket()
        self.broker.wait_client_gone("dying-retained")
        late = self.paho("late")
        late.subscribe([("will/#", 1)])
        got = late.inbox.wait_count(1)
        self.assertEqual([(m.topic, m.payload, m.retain) for m in got],
                         [("will/retained", b"last words", True)])

    def test_will_when_client_process_is_killed(self):
        watcher = self.watcher()
        word = f"gone-{self.rng.randrange(10**9)}"
        victim = self.msub(["some/topic"], client_id="victim",
                           extra=("--will-topic", "will/victim", "--will-payload", word,
                                  "--will-qos", "1"))
        victim.kill()
        self.assert_one_will(watcher, "will/victim", word.encode())

    def test_will_on_keep_alive_expiry(self):
        watcher = self.watcher()
        data = payload(self.rng, 1, 64)
        sleepy = self.paho("sleepy", keepalive=1, will=("will/sleepy", data, 1, False))
        sleepy.stop_network()   # from now on the client sends nothing, not even PINGREQ
        silent_since = time.monotonic()
        sock = sleepy.socket()
        self.assertIsNotNone(sock, "the connection was closed before the client went silent "
                                   f"(rc {sleepy.disconnected_rc})")
        sock.settimeout(EVENT_TIMEOUT)
        closed_at = None
        try:
            while sock.recv(4096):   # a PINGRESP may still arrive
                pass
            closed_at = time.monotonic()
        except ConnectionResetError:
            closed_at = time.monotonic()
        except socket.timeout:
            pass
        self.assertIsNotNone(closed_at, f"a silent keep-alive=1 client was not disconnected "
                                        f"within {EVENT_TIMEOUT:.0f}s")
        self.assert_one_will(watcher, "will/sleepy", data)
        # 1.5 x keep-alive after its last packet; generous slack for a loaded machine.
        self.assertLess(closed_at - silent_since, 1.5 + 3.0)

    def test_keep_alive_expiry_is_not_early(self):
        watcher = self.watcher()
        r = self.raw()
        sent_at = time.monotonic()
        r.connect(b"raw-sleepy", keepalive=1, will=(b"will/raw-sleepy", b"bye", 1, False))
        data, closed = r.read_until_closed(EVENT_TIMEOUT)
        elapsed = time.monotonic() - sent_at
        self.assertTrue(closed, "silent client not disconnected")
        self.assertEqual(data, b"")
        self.assertGreaterEqual(elapsed, 1.45, "disconnected before 1.5 x keep-alive")
        self.assertLess(elapsed, 1.5 + 3.0)
        self.assert_one_will(watcher, "will/raw-sleepy", b"bye")

    def test_no_will_after_clean_disconnect(self):
        watcher = self.watcher()
        polite = self.paho("polite", will=("will/polite", b"must not appear", 1, False))
        polite.disconnect()
        self.broker.wait_client_gone("polite")
        self.pub("will/other", b"x", 1, client_id="pub-with-will",
                 extra=("--will-topic", "will/pub", "--will-payload", "must not appear"))
        self.broker.wait_client_gone("pub-with-will")
        self.pub("will/marker", b"marker", 1)
        got = watcher.inbox.wait_topic("will/marker")
        self.assertEqual([m.topic for m in got], ["will/other", "will/marker"],
                         "a will was published after a clean DISCONNECT")


# ---- 6. session takeover -------------------------------------------------------------------------


class TakeoverTest(BrokerTest):

    def test_second_connection_with_same_client_id_closes_first(self):
        watcher = self.paho("twin-watcher")
        watcher.subscribe([("twin/#", 1)])
        first = self.paho("twin", will=("twin/will", b"first connection gone", 1, False))
        second = self.paho("twin")
        rc = first.wait_disconnected()
        self.assertNotEqual(rc, 0, "the first connection should have been closed by the broker")
        self.assertEqual(self.broker.client_ids().count("twin"), 1)
        # The broker closed the first connection without a DISCONNECT from it: its will goes
        # out (documented in MqttServer::open_session).
        got = watcher.inbox.wait_topic("twin/will")
        self.assertEqual([m.payload for m in got if m.topic == "twin/will"],
                         [b"first connection gone"])
        # The second one works.
        second.subscribe([("twin/echo", 1)])
        second.publish_wait("twin/echo", b"still here", 1)
        self.assertEqual([m.payload for m in second.inbox.wait_count(1)], [b"still here"])
        self.assertIsNone(second.disconnected_rc)


# ---- 7. persistent sessions ----------------------------------------------------------------------


class PersistentSessionTest(BrokerTest):

    def _subscribe_and_leave(self, n: int) -> list:
        keeper = self.paho("keeper", clean_session=False)
        self.assertEqual(keeper.connack["session_present"], 0)
        self.assertEqual(keeper.subscribe([("ps/#", 1)]), [1])
        keeper.disconnect()
        self.broker.wait_client_gone("keeper")
        pub = self.paho("ps-pub")
        datas = [payload(self.rng, i, self.rng.randrange(0, 800)) for i in range(n)]
        wait_published([pub.publish("ps/data", d, 1) for d in datas], 60, "publishes")
        pub.disconnect()
        return datas

    def test_messages_queued_while_offline_are_delivered_on_reconnect(self):
        datas = self._subscribe_and_leave(20)
        again = self.paho("keeper", clean_session=False)
        self.assertEqual(again.connack["session_present"], 1)
        got = again.inbox.wait_count(20)
        self.assert_same_payloads([m.payload for m in got], datas, "queued for the offline session")
        self.assertEqual({m.qos for m in got}, {1})
        # The subscription is still live.
        self.pub("ps/live", b"live", 1)
        got = again.inbox.wait_topic("ps/live")
        self.assertEqual(len(got), 21, "duplicates after reconnect")
        # clean session 1 discards the session ...
        again.disconnect()
        self.broker.wait_client_gone("keeper")
        clean = self.paho("keeper", clean_session=True)
        self.assertEqual(clean.connack["session_present"], 0)
        clean.disconnect()
        self.broker.wait_client_gone("keeper")
        # ... and keeps none behind.
        third = self.paho("keeper", clean_session=False)
        self.assertEqual(third.connack["session_present"], 0)

    def test_unacknowledged_delivery_is_resent_with_dup_on_reconnect(self):
        r = self.raw()
        r.connect(b"forgetful", clean=False)
        r.send(subscribe_packet(1, [(b"fg/#", 1)]))
        self.assertEqual(r.recv_exact(5).hex(), "9003000101", "SUBACK")
        data = payload(self.rng, 1, 300)
        self.pub("fg/x", data, 1)
        first = r.read_publish()
        self.assertEqual((first["topic"], first["qos"], first["dup"], sha(first["payload"])),
                         ("fg/x", 1, False, sha(data)))
        r.close()  # no PUBACK
        self.broker.wait_client_gone("forgetful")
        r2 = self.raw()
        r2.send(connect_packet(b"forgetful", clean=False))
        self.assertEqual(r2.recv_exact(4).hex(), "20020100", "CONNACK with session present")
        again = r2.read_publish()
        self.assertEqual((again["topic"], again["qos"], again["dup"], again["packet_id"],
                          sha(again["payload"])),
                         ("fg/x", 1, True, first["packet_id"], sha(data)),
                         "MQTT-4.4.0-1: resent with its packet id and DUP set")
        r2.send(b"\x40\x02" + struct.pack(">H", again["packet_id"]))  # PUBACK
        self.pub("fg/next", b"next", 1)
        nxt = r2.read_publish()
        self.assertEqual((nxt["topic"], nxt["dup"]), ("fg/next", False),
                         "an acknowledged message was sent again")

    # Sessions kept in the store ($mqtt/sessions, $mqtt/session/{id}: persistence.h).
    def test_persistent_session_survives_broker_restart(self):
        datas = self._subscribe_and_leave(10)
        self.assertEqual(self.broker.stop(), 0)
        self.broker.restart()
        again = self.paho("keeper", clean_session=False)
        self.assertEqual(again.connack["session_present"], 1,
                         "persistent session lost across a SIGTERM restart")
        got = again.inbox.wait_count(10)
        self.assert_same_payloads([m.payload for m in got], datas,
                                  "undelivered QoS 1 messages across a restart")
        self.pub("ps/after-restart", b"after", 1)
        again.inbox.wait_topic("ps/after-restart")


# ---- 8. durability -------------------------------------------------------------------------------


class DurabilityTest(BrokerTest):

    def test_acknowledged_messages_survive_kill_9(self):
        n = 450
        devices = ["crash-1", "crash-2", "crash-3"]
        pub = self.paho("crash-pub", max_inflight=32)
        expected = {d: [] for d in devices}
        infos = []
        for i in range(n):
            d = devices[i % len(devices)]
            data = payload(self.rng, i, self.rng.randrange(0, 2048))
            infos.append(pub.publish(f"devices/{d}/messages/events", data, 1))
            expected[d].append(data)
        wait_published(infos, 120, "QoS 1 publishes")
        self.broker.kill()
        pub.close()
        self.broker.restart()
        for d in devices:
            stored = self.broker.peek_all(f"iothub/{d}")
            self.assert_same_payloads([m["payload"] for m in stored], expected[d],
                                      f"iothub/{d} after kill -9")
            self.assertEqual([m["seq"] for m in stored], list(range(1, len(stored) + 1)))
            self.assertEqual(self.broker.metric("holdfast_queue_depth", queue=f"iothub/{d}"),
                             len(expected[d]))


    def test_acknowledged_messages_for_an_offline_session_survive_kill_9(self):
        # "A device is acknowledged only once its message is stored" ([store] in
        # conf/holdfast.toml): that includes the copy kept for a persistent session.
        n = 300
        keeper = self.paho("keeper", clean_session=False)
        keeper.subscribe([("ps/#", 1)])
        keeper.disconnect()
        self.broker.wait_client_gone("keeper")
        pub = self.paho("ps-pub", max_inflight=50)
        datas = [payload(self.rng, i, self.rng.randrange(0, 500)) for i in range(n)]
        wait_published([pub.publish("ps/data", d, 1) for d in datas], 60, "publishes")
        self.broker.kill()
        pub.close()
        self.broker.restart()
        again = self.paho("keeper", clean_session=False)
        self.assertEqual(again.connack["session_present"], 1, "session lost after kill -9")
        pub2 = self.paho("ps-pub2")
        pub2.publish_wait("ps/end", b"end", 1)
        got = again.inbox.wait_topic("ps/end")
        self.assert_same_payloads([m.payload for m in got[:-1]], datas,
                                  "acknowledged QoS 1 messages for an offline session, "
                                  "after kill -9")

    def test_pipelined_burst_is_acknowledged_in_order_and_stored(self):
        # 1000 QoS 1 publishes written at once, more than receive_maximum (256): the broker
        # stops reading while too many acknowledgements are pending, then must resume.
        n = 1000
        r = self.raw()
        r.connect(b"burst")
        datas = [payload(self.rng, i, self.rng.randrange(0, 300)) for i in range(n)]
        blob = b"".join(publish_packet(b"devices/burst/messages/events", d, qos=1,
                                       packet_id=i + 1) for i, d in enumerate(datas))
        r.sock.settimeout(120)
        sender = threading.Thread(target=r.send, args=(blob,), daemon=True)
        sender.start()
        acks = r.recv_exact(4 * n, timeout=120)
        sender.join(120)
        expected = b"".join(b"\x40\x02" + struct.pack(">H", i + 1) for i in range(n))
        if acks != expected:
            first = next(i for i in range(n) if acks[4 * i:4 * i + 4] != expected[4 * i:4 * i + 4])
            self.fail(f"PUBACKs out of order from #{first}: {acks[4 * first:4 * first + 16].hex()}")
        self.assert_same_payloads(self.stored_payloads("iothub/burst"), datas, "iothub/burst")



def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holdfastd", required=True, help="path of the holdfastd binary")
    args, rest = parser.parse_known_args()
    test_mqtt.HOLDFASTD = os.path.abspath(args.holdfastd)
    sys.stderr.write(f"holdfastd: {test_mqtt.HOLDFASTD}\nseed: {SEED} "
                     f"(HOLDFAST_IT_SEED={SEED} replays it)\n")
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
