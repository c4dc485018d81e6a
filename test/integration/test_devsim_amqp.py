#!/usr/bin/env python3
"""holdfast-devsim's AMQP devices against the real holdfastd: `amqp-iothub` (N devices on one
connection and one session, a $cbs put-token and a sender each, as the Azure C SDK multiplexes
them) and `amqp` (the plain on-premise broker dialogue: SASL ANONYMOUS, a sender per device on
--address). What devsim reports as sent (device, seq, sha256 of the payload as sent) must be
exactly what holdfastd stored, per device in sequence order (read back through the admin API);
TEA payloads decrypt (in Python here) to the sequence numbers; `holdfast-devsim verify` passes
on a record made from what holdfastd stored and fails on a tampered one; put-tokens are checked
by holdfastd (a wrong key is exit 3 for that device only); cloud-to-device messages published
by mosquitto_pub reach devsim's AMQP receivers.

Run: /usr/bin/python3 test_devsim_amqp.py --holdfastd PATH --devsim PATH
"""
import base64
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_mqtt  # noqa: E402  (BrokerTest, the binary)
from devsim_harness import (HOST, KEY, OTHER_KEY, TEA_KEY, Devsim,  # noqa: E402
                            devsim_seq, parse_binaries, run_devsim, xtea_decrypt)
from harness import EVENT_TIMEOUT, free_ports, mosquitto_pub, sha  # noqa: E402

DEVSIM = None

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


class AmqpDevsimTest(test_mqtt.BrokerTest):
    """One holdfastd per test with an AMQP listener that checks device tokens
    (require_device_auth) against a device-keys file listing dev0 .. dev5 (KEY) and sim0 ..
    sim2 (OTHER_KEY); `temperature` is routed to its own queue."""

    BROKER = {"amqp": True, "amqp_listener_config": "require_device_auth = true"}

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="holdfast-it-devsim-amqp-")
        cls.keys = os.path.join(cls.dir, "device-keys")
        with open(cls.keys, "w") as f:
            f.write("".join(f"dev{i} {KEY}\n" for i in range(6)))
            f.write("".join(f"sim{i} {OTHER_KEY}\n" for i in range(3)))
        [upstream_port] = free_ports(1)  # nothing listens there: the bridge keeps retrying
        cls.BROKER = dict(cls.BROKER, extra_config=ROUTES + f"""
[[upstream]]
name = "hub"
kind = "emulator"
host = "127.0.0.1"
port = {upstream_port}
auth = "device-keys"
device_keys_file = "{cls.keys}"
""")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def devsim(self, *args) -> tuple[int, Devsim]:
        return run_devsim(DEVSIM, list(args) + ["--seed", self.rng.randrange(2**31)])

    def iothub(self, *args) -> tuple[int, Devsim]:
        return self.devsim("amqp-iothub", "--port", self.broker.amqp_port, "--hub-host", HOST,
                           *args)

    def plain(self, *args) -> tuple[int, Devsim]:
        return self.devsim("amqp", "--port", self.broker.amqp_port, *args)

    def assert_stored_as_sent(self, d: Devsim, devices: list, count: int,
                              tea_key: str = None) -> dict:
        """Every device's queue iothub/{id} holds exactly the payloads devsim reported, in
        sequence order, each (decrypted with tea_key) headed by its sequence number."""
        by_device = d.sent_by_device()
        self.assertEqual(sorted(by_device), sorted(devices), d.describe())
        stored_by_device = {}
        for device, sent in by_device.items():
            self.assertEqual([x["seq"] for x in sent], list(range(count)), device)
            stored = self.broker.peek_all(f"iothub/{device}")
            self.assertEqual(self.broker.depth(f"iothub/{device}"), count, device)
            self.assertEqual([sha(m["payload"]) for m in stored], [x["sha256"] for x in sent],
                             f"{device}: stored payloads differ from those devsim sent")
            plain = [xtea_decrypt(m["payload"], tea_key) if tea_key else m["payload"]
                     for m in stored]
            self.assertEqual([devsim_seq(p) for p in plain], list(range(count)), device)
            self.assertEqual([m["properties"]["message_id"] for m in stored],
                             [f"{device}-{i}" for i in range(count)], device)
            self.assertTrue(all(m["origin"]["device_id"] == device for m in stored), device)
            stored_by_device[device] = stored
        return stored_by_device

    def verify(self, d: Devsim, record: list) -> tuple[int, Devsim]:
        """holdfast-devsim verify: devsim's whole output (summary included, as a shell
        redirection keeps it) against `record` (dicts with device_id and sha256)."""
        sent = os.path.join(self.workdir, f"sent-{len(record)}.jsonl")
        rec = os.path.join(self.workdir, f"record-{len(record)}.jsonl")
        with open(sent, "w") as f:
            f.write("".join(json.dumps(x) + "\n" for x in d.lines))
        with open(rec, "w") as f:
            f.write("".join(json.dumps(x) + "\n" for x in record))
        return run_devsim(DEVSIM, ["verify", "--record", rec, sent])

    # -- amqp-iothub --

    def test_iothub_devices_share_one_connection_at_a_rate(self):
        rc, d = self.iothub("--devices", 5, "--prefix", "dev", "--key", KEY, "--count", 20,
                            "--rate", 40, "--batch", 2, "--tea-key", TEA_KEY)
        self.assertEqual(rc, 0, d.describe())
        s = d.summary
        self.assertEqual((s["sent"], s["acknowledged"], s["refused"], s["devices"],
                          s["cbs_status"]), (100, 100, 0, 5, 200), d.describe())
        self.assert_stored_as_sent(d, [f"dev{i}" for i in range(5)], 20, tea_key=TEA_KEY)
        # One connection: every device's messages came from the same client.
        clients = {m["origin"]["client_id"] for i in range(5)
                   for m in self.broker.peek_all(f"iothub/dev{i}")}
        self.assertEqual(len(clients), 1, clients)

    def test_iothub_rate_and_duration_bound_what_is_sent(self):
        rc, d = self.iothub("--device", "sim0", "--device", "sim1", "--keys-file", self.keys,
                            "--rate", 20, "--duration", 1.5)
        self.assertEqual(rc, 0, d.describe())
        s = d.summary
        self.assertGreater(s["sent"], 0)
        self.assertEqual(s["acknowledged"], s["sent"])
        by_device = d.sent_by_device()
        self.assertEqual(sorted(by_device), ["sim0", "sim1"])
        for device, sent in by_device.items():
            # At most 20/s per device over 1.5 s from its sender's attach (plus the first).
            self.assertLessEqual(len(sent), 31, device)
            self.assertEqual([x["seq"] for x in sent], list(range(len(sent))), device)
            stored = self.broker.peek_all(f"iothub/{device}")
            self.assertEqual([sha(m["payload"]) for m in stored], [x["sha256"] for x in sent])
            self.assertEqual([devsim_seq(m["payload"]) for m in stored], list(range(len(sent))))

    def test_iothub_a_wrong_key_refuses_that_device_only(self):
        rc, d = self.iothub("--device", "dev1", "--device", "sim2", "--device", "dev2",
                            "--key", KEY, "--count", 6)  # sim2's key is OTHER_KEY
        self.assertEqual(rc, 3, d.describe())
        s = d.summary
        self.assertEqual((s["cbs_status"], s["sent"], s["acknowledged"]), (401, 12, 12))
        self.assertIn("sim2", s["error"])
        self.assertIsNone(self.broker.queue("iothub/sim2"))
        self.assert_stored_as_sent(d, ["dev1", "dev2"], 6)

    def test_verify_passes_on_what_holdfastd_stored_and_fails_on_loss_or_reordering(self):
        rc, d = self.iothub("--devices", 3, "--prefix", "dev", "--key", KEY, "--count", 10,
                            "--batch", 3)
        self.assertEqual(rc, 0, d.describe())
        record = [{"device_id": m["origin"]["device_id"], "sha256": sha(m["payload"])}
                  for i in range(3) for m in self.broker.peek_all(f"iothub/dev{i}")]
        self.assertEqual(len(record), 30)
        rc, v = self.verify(d, record)
        self.assertEqual(rc, 0, v.describe())
        self.assertEqual((v.summary["sent"], v.summary["recorded"], v.summary["ok"]),
                         (30, 30, True))
        lost = record[:4] + record[5:]
        rc, v = self.verify(d, lost)
        self.assertEqual((rc, v.summary["missing"], v.summary["ok"]), (4, 1, False))
        swapped = [record[1], record[0]] + record[2:] + [record[7]]
        rc, v = self.verify(d, swapped)
        self.assertEqual((rc, v.summary["out_of_order"], v.summary["duplicated"]), (4, 2, 1))

    def test_cloud_to_device_messages_reach_the_amqp_receivers(self):
        d = Devsim(DEVSIM, ["amqp-iothub", "--port", self.broker.amqp_port, "--hub-host", HOST,
                            "--device", "dev3", "--device", "dev4", "--key", KEY, "--count", 2,
                            "--c2d"])
        self.addCleanup(d.close)
        for device in ("dev3", "dev4"):
            d.wait_line(lambda x, dev=device: x.get("device") == dev and "subscribed" in x,
                        EVENT_TIMEOUT, f"{device}'s devicebound receiver")
        mosquitto_pub(self.port, "devices/dev3/messages/devicebound/%24.mid=c2d-1&cmd=reboot",
                      b"reboot\x00now", qos=1)
        mosquitto_pub(self.port, "devices/dev4/messages/devicebound", b"for dev4", qos=1)
        mosquitto_pub(self.port, "devices/dev3/messages/devicebound", b"second", qos=1)
        for what in (b"second", b"for dev4"):
            d.wait_line(lambda x, w=what: base64.b64decode(x.get("payload_base64", "")) == w,
                        EVENT_TIMEOUT, f"the C2D message {what!r}")
        self.assertEqual(d.stop(), 0, d.describe())
        by_device = {}
        for x in d.c2d:
            by_device.setdefault(x["device"], []).append(base64.b64decode(x["payload_base64"]))
        self.assertEqual(by_device, {"dev3": [b"reboot\x00now", b"second"], "dev4": [b"for dev4"]})
        self.assertEqual(d.c2d[0]["sha256"], sha(b"reboot\x00now"))
        self.assertEqual((d.summary["c2d_received"], d.summary["acknowledged"]), (3, 4))
        self.assert_stored_as_sent(d, ["dev3", "dev4"], 2)

    # -- amqp (the plain broker dialogue) --

    def test_plain_devices_to_a_routed_address(self):
        rc, d = self.plain("--devices", 4, "--prefix", "t", "--address", "temperature",
                           "--count", 15, "--rate", 100, "--tea-key", TEA_KEY, "--tea-classic")
        self.assertEqual(rc, 0, d.describe())
        s = d.summary
        self.assertEqual((s["sent"], s["acknowledged"], s["devices"]), (60, 60, 4))
        self.assertNotIn("cbs_status", s)
        self.assertEqual(self.broker.depth("temperature"), 60)
        stored = {}
        for m in self.broker.peek_all("temperature"):
            device, seq = m["properties"]["message_id"].rsplit("-", 1)
            self.assertEqual(m["properties"]["user"], [["seq", seq]])
            stored.setdefault(device, []).append(m["payload"])
        sent = d.sent_by_device()
        self.assertEqual(sorted(stored), ["t0", "t1", "t2", "t3"])
        for device, payloads in stored.items():
            self.assertEqual([sha(p) for p in payloads], [x["sha256"] for x in sent[device]],
                             device)
            self.assertEqual([devsim_seq(xtea_decrypt(p, TEA_KEY, classic=True))
                              for p in payloads], list(range(15)), device)

    def test_plain_device_addresses_need_a_token_here(self):
        rc, d = self.plain("--device", "dev5", "--count", 3)  # devices/dev5/messages/events
        self.assertEqual(rc, 3, d.describe())
        self.assertIn("unauthorized-access", d.summary["error"])
        self.assertEqual(d.summary["sent"], 0)
        self.assertIsNone(self.broker.queue("iothub/dev5"))

    def test_plain_unrouted_address_is_refused_with_exit_4(self):
        rc, d = self.plain("--device", "x1", "--address", "nowhere/{id}", "--count", 2)
        self.assertEqual(rc, 4, d.describe())
        self.assertEqual((d.summary["acknowledged"], d.summary["refused"]), (0, 2))
        self.assertIn("not-found", d.summary["refusal"])

    def test_nothing_listening_is_exit_2(self):
        [port] = free_ports(1)
        for mode in (["amqp"], ["amqp-iothub", "--hub-host", HOST, "--key", KEY]):
            rc, d = self.devsim(*mode, "--port", port, "--device", "dev1", "--count", 1)
            self.assertEqual(rc, 2, d.describe())
            self.assertIn("cannot connect", d.summary["error"])


class OpenAmqpDevsimTest(test_mqtt.BrokerTest):
    """holdfastd without device authentication: the plain dialogue's default address is each
    device's IoT Hub events address, stored per device as IoT Hub telemetry is."""

    BROKER = {"amqp": True, "extra_config": ROUTES}

    def test_plain_default_address_is_per_device(self):
        rc, d = run_devsim(DEVSIM, ["amqp", "--port", self.broker.amqp_port, "--devices", 3,
                                    "--prefix", "p", "--count", 8, "--window", 2,
                                    "--seed", self.rng.randrange(2**31)])
        self.assertEqual(rc, 0, d.describe())
        self.assertEqual(d.summary["acknowledged"], 24)
        for device, sent in d.sent_by_device().items():
            stored = self.broker.peek_all(f"iothub/{device}")
            self.assertEqual([sha(m["payload"]) for m in stored], [x["sha256"] for x in sent])
            self.assertEqual([devsim_seq(m["payload"]) for m in stored], list(range(8)))
            self.assertTrue(all(m["origin"]["device_id"] == device for m in stored), device)
        self.assertEqual(sorted(d.sent_by_device()), ["p0", "p1", "p2"])


def main():
    global DEVSIM
    paths, argv = parse_binaries(__doc__, "holdfastd", "devsim")
    test_mqtt.HOLDFASTD, DEVSIM = paths["holdfastd"], paths["devsim"]
    unittest.main(argv=argv)


if __name__ == "__main__":
    main()
