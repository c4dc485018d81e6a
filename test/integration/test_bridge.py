#!/usr/bin/env python3
"""The bridge end to end: holdfastd forwards its device queues over AMQP + CBS on TLS to
holdfast-hubsim (the IoT Hub emulator, started here with a certificate it generates), through
outages, throttling and refusals. Devices publish with mosquitto_pub and Python qpid-proton;
what the hub accepted is read back from its JSON record and compared by payload hash, in order
per device.

Run: /usr/bin/python3 test_bridge.py --holdfastd PATH --hubsim PATH
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import paho.mqtt.client as paho
from proton import Message
from proton.utils import BlockingConnection

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_mqtt  # noqa: E402  (BrokerTest, the binary)
from test_coap import CoapObserver, coap_client  # noqa: E402
from test_holdfastctl import xtea_ecb_encrypt  # noqa: E402
from harness import (CONNACK_ACCEPTED, EVENT_TIMEOUT, LOCALHOST, START_TIMEOUT,  # noqa: E402
                     PahoClient, RawClient, connect_packet, free_ports, payload, sha,
                     subscribe_packet, wait_until)

KEY1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
KEY2 = base64.b64encode(bytes(range(32, 64))).decode()
HUBSIM = None
DRAIN_TIMEOUT = 60.0  # forwarding through a restart of the hub includes reconnect backoff


class Hubsim:
    """holdfast-hubsim on free ports in `workdir`, with its control endpoint."""

    def __init__(self, workdir: str, devices_file: str):
        self.workdir = workdir
        self.devices_file = devices_file
        self.record = os.path.join(workdir, "hub.jsonl")
        self.tls_dir = os.path.join(workdir, "hub-tls")
        self.amqp_port, self.control_port, self.mqtt_port = free_ports(3)
        self.proc = None
        self._http = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def start(self):
        self.stderr = open(os.path.join(self.workdir, "hubsim.stderr"), "ab")
        self.proc = subprocess.Popen(
            [HUBSIM, "--amqp-port", str(self.amqp_port), "--mqtt-port", str(self.mqtt_port),
             "--hub-host", "localhost",
             "--devices", self.devices_file, "--tls-dir", self.tls_dir, "--record", self.record,
             "--control-port", str(self.control_port)],
            stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr)
        wait_until(lambda: self._status_or_none() is not None, START_TIMEOUT, "hubsim ready")

    def _status_or_none(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"hubsim exited with {self.proc.returncode}")
        try:
            return self.status()
        except OSError:
            return None

    def status(self) -> dict:
        with self._http.open(f"http://{LOCALHOST}:{self.control_port}/status", timeout=5) as r:
            return json.loads(r.read())

    def c2d(self, device: str, data: bytes, message_id: str = "", **properties) -> dict:
        body = {"device": device, "payload_base64": base64.b64encode(data).decode(),
                "message_id": message_id, "properties": properties}
        req = urllib.request.Request(f"http://{LOCALHOST}:{self.control_port}/c2d",
                                     data=json.dumps(body).encode(), method="POST")
        with self._http.open(req, timeout=5) as r:
            return json.loads(r.read())

    def faults(self, **changes) -> dict:
        req = urllib.request.Request(f"http://{LOCALHOST}:{self.control_port}/faults",
                                     data=json.dumps(changes).encode(), method="POST")
        with self._http.open(req, timeout=5) as r:
            return json.loads(r.read())

    def accepted(self) -> list[dict]:
        if not os.path.exists(self.record):
            return []
        with open(self.record) as f:
            text = f.read()
        # The emulator may be writing a line right now: only complete lines count.
        return [json.loads(line) for line in text[:text.rfind("\n") + 1].splitlines()
                if line.strip()]

    def of_device(self, device: str) -> list[dict]:
        return [m for m in self.accepted() if m["device_id"] == device]

    def stop(self):
        if not self.proc:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
        rc = self.proc.wait(timeout=30)
        self.stderr.close()
        if rc != 0:  # a crash, or a leak under the sanitizers
            with open(os.path.join(self.workdir, "hubsim.stderr"), errors="replace") as f:
                raise AssertionError(f"hubsim exited with {rc}:\n{f.read()[-3000:]}")


def sas_token(device: str, key: str, host: str = "localhost", expiry: int = None) -> str:
    se = int(time.time()) + 3600 if expiry is None else expiry
    sr = urllib.parse.quote(f"{host}/devices/{device}", safe="")
    digest = hmac.new(base64.b64decode(key), f"{sr}\n{se}".encode(), hashlib.sha256).digest()
    sig = urllib.parse.quote(base64.b64encode(digest).decode(), safe="")
    return f"SharedAccessSignature sr={sr}&sig={sig}&se={se}"


class BridgeTest(test_mqtt.BrokerTest):
    WINDOW = 64
    AUTH = "device-keys"
    KIND = "emulator"  # the upstream's kind: "emulator" is AMQP; test_bridge_mqtt.py: iothub-mqtt

    def setUp(self):
        self.hubdir = tempfile.mkdtemp(prefix="holdfast-it-hub-")
        devices = os.path.join(self.hubdir, "devices")
        with open(devices, "w") as f:
            f.write(f"dev1 {KEY1}\ndev2 {KEY2}\ndev3 {KEY1}\n")
            f.write("".join(f"bulk{i} {KEY2}\n" for i in range(10)))
        # holdfastd's keys: the hub's, and dev4, which the hub does not know.
        gateway_keys = os.path.join(self.hubdir, "gateway-keys")
        with open(gateway_keys, "w") as f:
            f.write(f"dev1 {KEY1}\ndev2 {KEY2}\ndev3 {KEY1}\ndev4 {KEY1}\n")
            f.write("".join(f"bulk{i} {KEY2}\n" for i in range(10)))
        self.hub = Hubsim(self.hubdir, devices)
        self.addCleanup(shutil.rmtree, self.hubdir, True)
        self.hub.start()
        self.addCleanup(self.hub.stop)
        self.BROKER = {"amqp": True, "coap": True, "extra_config": f"""
[[upstream]]
name = "hub"
kind = "{self.KIND}"
host = "localhost"
port = {self.hub.mqtt_port if self.KIND == "iothub-mqtt" else self.hub.amqp_port}
ca_file = "{self.hub.tls_dir}/ca.pem"
auth = "{self.AUTH}"
{f'device_keys_file = "{gateway_keys}"' if self.AUTH == "device-keys" else ""}
window = {self.WINDOW}
"""}
        super().setUp()

    def publish(self, device: str, bodies: list):
        for b in bodies:
            self.pub(f"devices/{device}/messages/events", b, qos=1)

    def wait_forwarded(self, device: str, n: int) -> list[dict]:
        return wait_until(lambda: (lambda got: got if len(got) >= n else None)(
            self.hub.of_device(device)), DRAIN_TIMEOUT, f"{n} messages of {device} at the hub")

    def assert_in_order(self, device: str, bodies: list):
        got = self.hub.of_device(device)
        # At-least-once: a resend after a lost connection may repeat a message; order holds.
        hashes = []
        for m in got:
            if not hashes or hashes[-1] != m["sha256"]:
                hashes.append(m["sha256"])
        deduped = list(dict.fromkeys(hashes))
        self.assertEqual(deduped, [sha(b) for b in bodies], f"{device}: order or content")

    def test_forwarded_in_order_byte_for_byte_with_hub_properties(self):
        one = [payload(self.rng, i, 100) for i in range(20)]
        two = [payload(self.rng, i, 50) for i in range(20)]
        self.publish("dev1", one)
        self.publish("dev2", two)
        amqp_body = payload(self.rng, 99, 200)
        c = BlockingConnection(self.broker.amqp_url, timeout=EVENT_TIMEOUT)
        c.create_sender("devices/dev3/messages/events").send(
            Message(body=amqp_body, inferred=True, id="a-1", content_type="application/x-tea",
                    properties={"k": "v"}))
        c.close()
        self.wait_forwarded("dev1", 20)
        self.wait_forwarded("dev2", 20)
        three = self.wait_forwarded("dev3", 1)
        self.assert_in_order("dev1", one)
        self.assert_in_order("dev2", two)
        m = three[0]
        self.assertEqual(m["sha256"], sha(amqp_body))
        self.assertEqual(m["system_properties"]["message-id"], "a-1")
        self.assertEqual(m["system_properties"]["content-type"], "application/x-tea")
        self.assertEqual(m["system_properties"]["iothub-connection-device-id"], "dev3")
        self.assertEqual(m["properties"], {"k": "v"})
        wait_until(lambda: self.broker.depth("iothub/dev1") == 0, EVENT_TIMEOUT,
                   "dev1's queue drained (cursor committed)")

    def test_tea_payloads_from_every_listener_arrive_byte_for_byte_in_order(self):
        key = self.rng.randbytes(16)
        sealed = lambda device, i: xtea_ecb_encrypt(  # noqa: E731
            f"{device}:{i:04d}:".encode().ljust(24, b"."), key)
        mqtt_bodies = [sealed("dev1", i) for i in range(5)]
        amqp_bodies = [sealed("dev2", i) for i in range(5)]
        coap_bodies = [sealed("dev3", i) for i in range(5)]
        self.publish("dev1", mqtt_bodies)
        c = BlockingConnection(self.broker.amqp_url, timeout=EVENT_TIMEOUT)
        sender = c.create_sender("devices/dev2/messages/events")
        for b in amqp_bodies:
            sender.send(Message(body=b, inferred=True))
        c.close()
        for b in coap_bodies:
            r = coap_client(f"{self.broker.coap_url}/devices/dev3/messages/events", data=b)
            self.assertEqual(r.returncode, 0, r.stderr)
        for device, bodies in (("dev1", mqtt_bodies), ("dev2", amqp_bodies),
                               ("dev3", coap_bodies)):
            self.wait_forwarded(device, len(bodies))
            self.assert_in_order(device, bodies)

    def test_outage_backlog_is_held_then_drained(self):
        self.publish("dev1", [b"before"])
        self.wait_forwarded("dev1", 1)
        self.hub.faults(outage=True)
        backlog = [payload(self.rng, i, 80) for i in range(50)]
        self.publish("dev1", backlog)
        wait_until(lambda: self.broker.depth("iothub/dev1") >= 50, EVENT_TIMEOUT,
                   "the backlog held in iothub/dev1")
        self.assertEqual(len(self.hub.of_device("dev1")), 1, "nothing reached the hub")
        self.hub.faults(outage=False)
        self.wait_forwarded("dev1", 51)
        self.assert_in_order("dev1", [b"before"] + backlog)
        if self.KIND == "emulator":  # AMQP: the backlog went in IoT Hub batches
            self.assertGreater(self.broker.metric("holdfast_bridge_batches_total",
                                                  upstream="hub"), 0)
        wait_until(lambda: self.broker.depth("iothub/dev1") == 0, EVENT_TIMEOUT,
                   "the backlog drained")

    def test_live_messages_get_their_share_of_the_window_while_a_backlog_drains(self):
        self.broker.stop()
        self.broker.extra_config = self.broker.extra_config.replace(
            f"window = {self.WINDOW}", 'window = 4\nlive_share = 50\nbacklog_age = "500ms"')
        self.broker.start()
        self.hub.faults(outage=True)
        backlog = [payload(self.rng, i, 60) for i in range(300)]
        self.publish("dev1", backlog)
        # Slow acknowledgements: the backlog takes many seconds, with 2 of the 4 slots.
        self.hub.faults(outage=False, ack_delay_ms=150)
        wait_until(lambda: "'iothub/dev1' drains a backlog" in self.broker.log_text(),
                   DRAIN_TIMEOUT, "the backlog split off")
        live = [payload(self.rng, 1000 + i, 30) for i in range(5)]
        self.publish("dev1", live)
        live_hashes = {sha(b) for b in live}
        got = wait_until(lambda: (lambda g: g if live_hashes <= {m["sha256"] for m in g} else None)(
            self.hub.of_device("dev1")), DRAIN_TIMEOUT, "the live messages at the hub")
        backlog_seen = {m["sha256"] for m in got} - live_hashes
        self.assertLess(len(backlog_seen), len(backlog), "live messages overtook the backlog")
        self.hub.faults(ack_delay_ms=0)
        self.wait_forwarded("dev1", len(backlog) + len(live))
        wait_until(lambda: "'iothub/dev1' drained its backlog" in self.broker.log_text(),
                   EVENT_TIMEOUT, "the end of the backlog logged")
        got = [m["sha256"] for m in self.hub.of_device("dev1")]
        self.assertEqual([h for h in got if h not in live_hashes], [sha(b) for b in backlog])
        self.assertEqual([h for h in got if h in live_hashes], [sha(b) for b in live])
        wait_until(lambda: self.broker.depth("iothub/dev1") == 0, EVENT_TIMEOUT,
                   "the cursor past the backlog and the live messages")
        self.assertEqual(self.broker.metric("holdfast_bridge_live_forwarded_total",
                                            upstream="hub"), len(live))

    def test_backlog_survives_a_holdfastd_restart(self):
        self.hub.faults(outage=True)
        bodies = [payload(self.rng, i, 64) for i in range(10)]
        self.publish("dev1", bodies)
        self.broker.kill()
        self.broker.restart()
        self.hub.faults(outage=False)
        self.wait_forwarded("dev1", 10)
        self.assert_in_order("dev1", bodies)

    def test_100k_backlog_with_sigkills_during_outage_and_drain(self):
        n, devices = int(os.environ.get("HOLDFAST_IT_BACKLOG", "100000")), 10
        self.hub.faults(outage=True)
        sent = {f"bulk{d}": [] for d in range(devices)}
        c = paho.Client("filler")
        c.max_inflight_messages_set(200)
        c.max_queued_messages_set(0)  # unlimited: the client queues while the window is full
        c.connect(LOCALHOST, self.broker.mqtt_port)
        c.loop_start()
        infos = []
        for i in range(n):
            device = f"bulk{i % devices}"
            body = i.to_bytes(4, "big") + b"\x00" + self.rng.randbytes(32)
            sent[device].append(body)
            infos.append(c.publish(f"devices/{device}/messages/events", body, qos=1))
            if len(infos) == 20000 or i == n - 1:  # packet ids wrap at 65535: wait in chunks
                for info in infos:
                    info.wait_for_publish(timeout=EVENT_TIMEOUT * 4)
                    self.assertTrue(info.is_published(), "a PUBACK never came")
                infos = []
        c.disconnect()
        c.loop_stop()
        self.broker.kill()  # during the outage, everything acknowledged
        self.broker.restart()
        self.hub.faults(outage=False)
        wait_until(lambda: len(self.hub.accepted()) >= n // 3, DRAIN_TIMEOUT * 4,
                   "a third drained", interval=0.5)
        self.broker.kill()  # during the drain
        self.broker.restart()
        wait_until(lambda: len({m["sha256"] for m in self.hub.accepted()}) >= n,
                   DRAIN_TIMEOUT * 4, f"all {n} at the hub", interval=0.5)
        for device, bodies in sent.items():
            self.assert_in_order(device, bodies)

    def test_throttling_delays_but_loses_nothing(self):
        self.hub.faults(throttle_per_s=5)
        bodies = [payload(self.rng, i, 40) for i in range(15)]
        self.publish("dev1", bodies)
        # A throttled batch is sent again whole: count distinct messages, not records.
        wait_until(lambda: {m["sha256"] for m in self.hub.of_device("dev1")} >=
                   {sha(b) for b in bodies}, DRAIN_TIMEOUT, "all 15 at the hub")
        refused = [m for m in self.broker.metrics() if m.name == "holdfast_bridge_refused_total"]
        self.assertGreater(refused[0].value, 0, "the hub never throttled: the test proves nothing")
        throttled = self.broker.metric("holdfast_bridge_throttled_total", upstream="hub")
        self.assertGreater(throttled, 0)
        self.assertGreaterEqual(self.broker.metric("holdfast_bridge_retried_total", upstream="hub"),
                                throttled)
        self.assertGreaterEqual(self.broker.metric("holdfast_bridge_sent_total", upstream="hub"),
                                len(bodies) + throttled)

    def test_oversize_message_is_dead_lettered_and_the_rest_flows(self):
        big = payload(self.rng, 1, 300 * 1024)  # over IoT Hub's 256 KiB, under holdfastd's 512
        small = payload(self.rng, 2, 10)
        self.publish("dev1", [big, small])
        self.wait_forwarded("dev1", 1)
        self.assertEqual([m["sha256"] for m in self.hub.of_device("dev1")], [sha(small)])
        dead = wait_until(lambda: self.broker.peek_all("deadletter/iothub/dev1", missing_ok=True),
                          EVENT_TIMEOUT, "the oversize message dead-lettered")
        self.assertEqual(sha(dead[0]["payload"]), sha(big))
        self.assertIn("message-size-exceeded", dead[0]["dead_letter"]["reason"])

    def test_with_on_refusal_hold_a_refused_message_holds_its_queue(self):
        self.broker.stop()
        self.broker.extra_config += 'on_refusal = "hold"\n'  # the [[upstream]] table is last
        self.broker.start()
        big = payload(self.rng, 1, 300 * 1024)  # over IoT Hub's 256 KiB
        self.publish("dev1", [big, b"behind it"])
        self.publish("dev2", [b"flows"])
        self.wait_forwarded("dev2", 1)
        wait_until(lambda: "queue held (on_refusal = hold)" in self.broker.log_text(),
                   EVENT_TIMEOUT, "the hold logged")
        self.assertEqual(self.hub.of_device("dev1"), [])
        self.assertEqual(self.broker.depth("iothub/dev1"), 2, "both kept, in order")
        self.assertIsNone(self.broker.queue("deadletter/iothub/dev1"))

    def test_an_unauthorized_device_goes_to_dead_letters_and_others_flow(self):
        # Queued during an outage, dev2's three messages go as one batch over AMQP.
        self.hub.faults(unauthorized_devices=["dev2"], outage=True)
        refused = [b"refused 1", b"refused 2", b"refused 3"]
        self.publish("dev2", refused)
        self.publish("dev1", [b"flows"])
        wait_until(lambda: self.broker.depth("iothub/dev2") == 3, EVENT_TIMEOUT, "dev2 queued")
        self.hub.faults(outage=False)
        self.wait_forwarded("dev1", 1)
        dead = wait_until(lambda: (lambda d: d if len(d) == 3 else None)(
            self.broker.peek_all("deadletter/iothub/dev2", missing_ok=True)),
            EVENT_TIMEOUT, "dev2's messages dead-lettered")
        self.assertEqual([d["payload"] for d in dead], refused)
        self.assertIn("unauthorized-access", dead[0]["dead_letter"]["reason"])
        if self.KIND == "emulator":  # AMQP: the batch was refused, then each message alone
            self.assertIn("a batch of 'iothub/dev2' was refused", self.broker.log_text())
        self.assertEqual(self.hub.of_device("dev2"), [])
        self.hub.faults(unauthorized_devices=[])
        self.publish("dev2", [b"allowed again"])
        self.wait_forwarded("dev2", 1)

    def test_a_device_whose_key_the_hub_refuses_is_held_and_others_flow(self):
        # dev4 is in holdfastd's key file but not in the hub's registry: CBS answers 401.
        self.publish("dev4", [b"held"])
        self.publish("dev1", [b"flows"])
        self.wait_forwarded("dev1", 1)
        self.assertEqual(self.broker.depth("iothub/dev4"), 1, "dev4's message is kept")
        self.assertIsNone(self.broker.queue("deadletter/iothub/dev4"))

    def test_connection_drops_and_slow_acks_lose_nothing(self):
        self.hub.faults(drop_after=7, ack_delay_ms=20)
        bodies = [payload(self.rng, i, 40) for i in range(30)]
        self.publish("dev1", bodies)
        wait_until(lambda: self.hub.status()["dropped_connections"] >= 1, DRAIN_TIMEOUT,
                   "the hub dropped the connection")
        self.hub.faults(drop_after=0, ack_delay_ms=0)
        wait_until(lambda: {m["sha256"] for m in self.hub.of_device("dev1")} >=
                   {sha(b) for b in bodies}, DRAIN_TIMEOUT, "all 30 at the hub")
        self.assert_in_order("dev1", bodies)


    def test_an_untrusted_certificate_is_refused_and_logged(self):
        other = os.path.join(self.hubdir, "other-ca")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=other",
                        "-keyout", other + ".key", "-out", other + ".pem"],
                       check=True, capture_output=True)
        self.broker.stop()
        self.broker.extra_config = self.broker.extra_config.replace(
            f"{self.hub.tls_dir}/ca.pem", other + ".pem")
        self.broker.start()
        self.publish("dev1", [b"must not leave"])
        wait_until(lambda: "certificate verify failed" in self.broker.log_text(), EVENT_TIMEOUT,
                   "the TLS failure logged")
        self.assertEqual(self.hub.of_device("dev1"), [])
        self.assertEqual(self.broker.depth("iothub/dev1"), 1)

    def test_a_certificate_for_another_host_name_is_refused_and_logged(self):
        # A trusted CA, but the hub's certificate names elsewhere.example, not localhost.
        tls = os.path.join(self.hubdir, "other-name-tls")
        os.makedirs(tls)

        def openssl(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tls)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        openssl("req", "-x509", *ec, "-days", "1", "-subj", "/CN=test CA", "-keyout", "ca.key",
                "-out", "ca.pem")
        openssl("req", *ec, "-subj", "/CN=elsewhere.example", "-keyout", "server.key",
                "-out", "server.csr")
        with open(os.path.join(tls, "san.ext"), "w") as f:
            f.write("subjectAltName=DNS:elsewhere.example\n")
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "1", "-extfile", "san.ext", "-out", "server.pem")
        self.hub.stop()
        self.hub.tls_dir = tls
        self.hub.start()
        self.broker.stop()
        self.broker.extra_config = self.broker.extra_config.replace(
            f"{self.hubdir}/hub-tls/ca.pem", f"{tls}/ca.pem")
        self.broker.start()
        self.publish("dev1", [b"must not leave"])
        wait_until(self.tls_failure_logged, EVENT_TIMEOUT, "the host-name failure logged")
        self.assertEqual(self.hub.of_device("dev1"), [])
        self.assertEqual(self.broker.depth("iothub/dev1"), 1)


    def tls_failure_logged(self) -> bool:
        return "hostname mismatch" in self.broker.log_text()

    def c2d_completed(self) -> int:
        return self.hub.status()["c2d"]["completed"]

    def test_cloud_to_device_reaches_mqtt_and_amqp_devices(self):
        # The bridge learns a device from its telemetry; then it also receives its C2D.
        self.publish("dev1", [b"hello"])
        self.publish("dev3", [b"hello"])
        self.wait_forwarded("dev1", 1)
        self.wait_forwarded("dev3", 1)
        mqtt_device = PahoClient(self.broker.mqtt_port, "dev1")
        self.addCleanup(mqtt_device.close)
        mqtt_device.connect()
        mqtt_device.subscribe([("devices/dev1/messages/devicebound/#", 1)])
        c = BlockingConnection(self.broker.amqp_url, timeout=EVENT_TIMEOUT)
        self.addCleanup(c.close)
        amqp_device = c.create_receiver("devices/dev3/messages/devicebound", credit=5)
        self.hub.c2d("dev1", b"\x00reboot", message_id="c-1", mode="fast")
        [got] = mqtt_device.inbox.wait_count(1)
        self.assertEqual(got.payload, b"\x00reboot")
        self.assertTrue(got.topic.startswith("devices/dev1/messages/devicebound/"), got.topic)
        self.assertIn("%24.mid=c-1", got.topic)
        self.assertIn("mode=fast", got.topic)
        self.hub.c2d("dev3", b"open valve", message_id="c-2")
        m = amqp_device.receive(timeout=EVENT_TIMEOUT)
        self.assertEqual(m.body, b"open valve")
        amqp_device.accept()
        self.flush(c)
        wait_until(lambda: self.c2d_completed() == 2, EVENT_TIMEOUT, "both completed at the hub")

    def test_cloud_to_device_waits_in_the_store_through_a_restart(self):
        # No device subscribed: kept in the store (complete at the hub once durable), through
        # a SIGKILL, then delivered in order when the device subscribes. After the restart
        # dev2's telemetry queue is empty, yet the bridge still receives its C2D: its outbox
        # recorded it.
        self.publish("dev2", [b"hello"])
        self.wait_forwarded("dev2", 1)
        self.hub.c2d("dev2", b"one", message_id="c-1")
        self.hub.c2d("dev2", b"two", message_id="c-2")
        wait_until(lambda: self.broker.depth("$c2d/hub/dev2") == 2, EVENT_TIMEOUT,
                   "both kept in the store")
        wait_until(lambda: self.c2d_completed() == 2, EVENT_TIMEOUT, "complete at the hub")
        self.broker.kill()
        self.broker.restart()
        wait_until(lambda: self.broker.depth("iothub/dev2") == 0, EVENT_TIMEOUT, "queue drained")
        self.hub.c2d("dev2", b"three", message_id="c-3")
        wait_until(lambda: self.broker.depth("$c2d/hub/dev2") == 3, EVENT_TIMEOUT,
                   "the third kept after the restart")
        device = PahoClient(self.broker.mqtt_port, "dev2")
        self.addCleanup(device.close)
        device.connect()
        device.subscribe([("devices/dev2/messages/devicebound/#", 1)])
        got = device.inbox.wait_count(3)
        self.assertEqual([m.payload for m in got], [b"one", b"two", b"three"])
        self.assertIn("%24.mid=c-1", got[0].topic)
        wait_until(lambda: self.broker.depth("$c2d/hub/dev2") == 0, EVENT_TIMEOUT,
                   "taken from the store")
        self.assertEqual(self.c2d_completed(), 3, "nothing went back to the hub")

    def test_cloud_to_device_for_a_device_that_never_sent_anything(self):
        # bulk9 has a key but no queue yet: subscribing is enough for the bridge to open it.
        device = PahoClient(self.broker.mqtt_port, "bulk9")
        self.addCleanup(device.close)
        device.connect()
        device.subscribe([("devices/bulk9/messages/devicebound/#", 1)])
        wait_until(lambda: "device 'bulk9' subscribed to its cloud-to-device messages"
                   in self.broker.log_text(), EVENT_TIMEOUT, "the bridge told of the subscription")
        self.hub.c2d("bulk9", b"first", message_id="c-1")
        [got] = device.inbox.wait_count(1)
        self.assertEqual(got.payload, b"first")
        wait_until(lambda: self.c2d_completed() == 1, EVENT_TIMEOUT, "completed at the hub")
        # Once it sends, its queue takes over the device at the hub; C2D keeps working.
        self.publish("bulk9", [b"now it talks"])
        self.wait_forwarded("bulk9", 1)
        self.hub.c2d("bulk9", b"second", message_id="c-2")
        got = device.inbox.wait_count(2)
        self.assertEqual([m.payload for m in got], [b"first", b"second"])
        wait_until(lambda: self.c2d_completed() == 2, EVENT_TIMEOUT, "completed at the hub")

    def test_cloud_to_device_reaches_a_coap_observer(self):
        # bulk8 never sent anything: observing its devicebound topic opens it at the hub.
        observer = CoapObserver(f"coap://{LOCALHOST}:{self.broker.coap_port}"
                                "/devices/bulk8/messages/devicebound/%23")
        self.addCleanup(observer.close)
        wait_until(lambda: "device 'bulk8' subscribed to its cloud-to-device messages"
                   in self.broker.log_text(), EVENT_TIMEOUT, "the bridge told of the observer")
        command = payload(self.rng, 7, 40)
        self.hub.c2d("bulk8", command, message_id="c-9")
        observer.wait_for_payloads([command])
        wait_until(lambda: self.c2d_completed() == 1, EVENT_TIMEOUT, "completed at the hub")

    @staticmethod
    def flush(c: BlockingConnection) -> None:
        """Until the settlements the receiver made are written to the broker."""
        c.wait(lambda: c.conn.transport.pending() <= 0, msg="flushing settlements")

    def c2d_settled(self) -> dict:
        c2d = self.hub.status()["c2d"]
        return {k: c2d[k] for k in ("completed", "rejected", "abandoned")}

    def test_the_devices_answer_to_cloud_to_device_is_relayed_to_the_hub(self):
        # accepted -> complete, rejected -> reject, released or no answer -> abandon (the hub
        # redelivers and the device gets the message again).
        self.publish("dev1", [b"hello"])
        self.publish("dev3", [b"hello"])
        self.wait_forwarded("dev1", 1)
        self.wait_forwarded("dev3", 1)
        c = BlockingConnection(self.broker.amqp_url, timeout=EVENT_TIMEOUT)
        self.addCleanup(c.close)
        amqp_device = c.create_receiver("devices/dev3/messages/devicebound", credit=5)
        self.hub.c2d("dev3", b"bad command", message_id="c-1")
        self.assertEqual(amqp_device.receive(timeout=EVENT_TIMEOUT).body, b"bad command")
        self.assertEqual(self.c2d_settled(), {"completed": 0, "rejected": 0, "abandoned": 0},
                         "settled at the hub before the device answered")
        amqp_device.reject()
        self.flush(c)
        wait_until(lambda: self.c2d_settled()["rejected"] == 1, EVENT_TIMEOUT, "rejected at the hub")

        self.hub.c2d("dev3", b"not now", message_id="c-2")
        self.assertEqual(amqp_device.receive(timeout=EVENT_TIMEOUT).body, b"not now")
        amqp_device.release()
        self.flush(c)
        # Abandoned at the hub, which delivers it again; this time the device takes it.
        self.assertEqual(amqp_device.receive(timeout=EVENT_TIMEOUT).body, b"not now")
        self.assertEqual(self.c2d_settled()["abandoned"], 1)
        amqp_device.accept()
        self.flush(c)
        wait_until(lambda: self.c2d_settled()["completed"] == 1, EVENT_TIMEOUT,
                   "completed at the hub")

        # An MQTT device that disconnects before its PUBACK: abandoned, then redelivered to the
        # device once it is back.
        raw = RawClient(self.broker.mqtt_port)
        raw.send(connect_packet(b"dev1"))
        self.assertEqual(raw.recv_exact(4), CONNACK_ACCEPTED)
        raw.send(subscribe_packet(1, [(b"devices/dev1/messages/devicebound/#", 1)]))
        self.assertEqual(raw.read_packet()[0] >> 4, 9)  # SUBACK
        self.hub.c2d("dev1", b"reboot", message_id="c-3")
        got = raw.read_publish()
        self.assertEqual((got["payload"], got["qos"]), (b"reboot", 1))
        self.assertEqual(self.c2d_settled()["completed"], 1)
        raw.sock.close()
        wait_until(lambda: self.c2d_settled()["abandoned"] == 2, EVENT_TIMEOUT,
                   "abandoned at the hub when the device left without PUBACK")
        device = PahoClient(self.broker.mqtt_port, "dev1")
        self.addCleanup(device.close)
        device.connect()
        device.subscribe([("devices/dev1/messages/devicebound/#", 1)])
        [again] = device.inbox.wait_count(1)
        self.assertEqual(again.payload, b"reboot")
        wait_until(lambda: self.c2d_settled()["completed"] == 2, EVENT_TIMEOUT,
                   "completed at the hub after the PUBACK")
        self.assertEqual(self.c2d_settled(), {"completed": 2, "rejected": 1, "abandoned": 2})
        # c-3 came back while no device was subscribed: kept in the store, then taken.
        for outcome, n in (("taken", 2), ("rejected", 1), ("abandoned", 2), ("kept", 1)):
            self.assertEqual(self.broker.metric("holdfast_bridge_c2d_total", upstream="hub",
                                                outcome=outcome), n, outcome)


class TokenPassthroughTest(BridgeTest):
    """The gateway holds no keys: it forwards with the tokens devices logged in with."""

    AUTH = "token-passthrough"

    # The BridgeTest cases publish without tokens: not repeated here.
    test_forwarded_in_order_byte_for_byte_with_hub_properties = None
    test_outage_backlog_is_held_then_drained = None
    test_backlog_survives_a_holdfastd_restart = None
    test_throttling_delays_but_loses_nothing = None
    test_100k_backlog_with_sigkills_during_outage_and_drain = None
    test_oversize_message_is_dead_lettered_and_the_rest_flows = None
    test_with_on_refusal_hold_a_refused_message_holds_its_queue = None
    test_live_messages_get_their_share_of_the_window_while_a_backlog_drains = None
    test_tea_payloads_from_every_listener_arrive_byte_for_byte_in_order = None
    test_an_unauthorized_device_goes_to_dead_letters_and_others_flow = None
    test_a_device_whose_key_the_hub_refuses_is_held_and_others_flow = None
    test_connection_drops_and_slow_acks_lose_nothing = None
    test_an_untrusted_certificate_is_refused_and_logged = None
    test_a_certificate_for_another_host_name_is_refused_and_logged = None
    test_cloud_to_device_reaches_mqtt_and_amqp_devices = None
    test_cloud_to_device_waits_in_the_store_through_a_restart = None
    test_the_devices_answer_to_cloud_to_device_is_relayed_to_the_hub = None
    test_cloud_to_device_for_a_device_that_never_sent_anything = None
    test_cloud_to_device_reaches_a_coap_observer = None

    def device(self, device: str, key: str) -> PahoClient:
        c = PahoClient(self.broker.mqtt_port, device)
        c.client.username_pw_set(f"localhost/{device}/?api-version=2021-04-12",
                                 sas_token(device, key))
        self.addCleanup(c.close)
        c.connect()
        return c

    def test_messages_wait_for_the_device_token_then_flow(self):
        self.publish("dev2", [b"no token yet"])  # a plain client: no token for dev2
        wait_until(lambda: self.broker.depth("iothub/dev2") == 1, EVENT_TIMEOUT, "dev2 stored")
        dev1 = self.device("dev1", KEY1)
        dev1.publish_wait("devices/dev1/messages/events", b"with token", qos=1)
        self.wait_forwarded("dev1", 1)
        self.assertEqual(self.hub.of_device("dev2"), [], "dev2 forwarded without a token")
        dev2 = self.device("dev2", KEY2)
        dev2.publish_wait("devices/dev2/messages/events", b"now with token", qos=1)
        self.wait_forwarded("dev2", 2)
        self.assert_in_order("dev2", [b"no token yet", b"now with token"])


def main():
    global HUBSIM
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holdfastd", required=True, help="path of the holdfastd binary")
    parser.add_argument("--hubsim", required=True, help="path of the holdfast-hubsim binary")
    args, rest = parser.parse_known_args()
    test_mqtt.HOLDFASTD = os.path.abspath(args.holdfastd)
    HUBSIM = os.path.abspath(args.hubsim)
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
