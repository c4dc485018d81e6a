#!/usr/bin/env python3
"""holdfast-devsim's MQTT and CoAP devices against the real holdfastd: what devsim reports as
sent (device, seq, sha256 of the payload as sent) must be exactly what holdfastd stored, per
device, in sequence order (read back through the admin API); TEA payloads decrypt (in Python
here) to the sequence number; IoT Hub's MQTT login is checked by holdfastd (a wrong key is exit
3); MQTT over TLS with a CA made here by openssl; cloud-to-device messages published by
mosquitto_pub reach devsim's output.

Run: /usr/bin/python3 test_devsim.py --holdfastd PATH --devsim PATH
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
from harness import EVENT_TIMEOUT, free_ports, make_test_pki, mosquitto_pub, sha  # noqa: E402

DEVSIM = None


class DevsimTest(test_mqtt.BrokerTest):
    """One holdfastd per test with MQTT (plain and TLS) and CoAP listeners; the gateway checks
    the SAS tokens of the devices its device-keys file lists (dev0 .. dev3, sim0 .. sim2)."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="holdfast-it-devsim-")
        cls.keys = os.path.join(cls.dir, "device-keys")
        with open(cls.keys, "w") as f:
            f.write("".join(f"dev{i} {KEY}\n" for i in range(4)))
            f.write("".join(f"sim{i} {OTHER_KEY}\n" for i in range(3)))
        cls.pki = make_test_pki(cls.dir)
        [upstream_port] = free_ports(1)  # nothing listens there: the bridge keeps retrying
        cls.BROKER = {
            "coap": True,
            "mqtt_tls_config": f'cert_file = "{cls.pki["server_cert"]}"\n'
                               f'key_file = "{cls.pki["server_key"]}"\n',
            "extra_config": f"""
[[upstream]]
name = "hub"
kind = "emulator"
host = "127.0.0.1"
port = {upstream_port}
auth = "device-keys"
device_keys_file = "{cls.keys}"
"""}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def devsim(self, *args) -> tuple[int, Devsim]:
        rc, d = run_devsim(DEVSIM, list(args) + ["--seed", self.rng.randrange(2**31)])
        return rc, d

    def mqtt(self, *args) -> tuple[int, Devsim]:
        return self.devsim("mqtt-iothub", "--port", self.broker.mqtt_port, "--hub-host", HOST,
                           *args)

    def coap(self, *args) -> tuple[int, Devsim]:
        return self.devsim("coap", "--port", self.broker.coap_port, *args)

    def assert_stored_as_sent(self, d: Devsim, devices: list, count: int,
                              tea_key: str = None) -> dict:
        """Every device's queue holds exactly the payloads devsim reported, in sequence order,
        and each payload (decrypted with tea_key) starts with its sequence number."""
        by_device = d.sent_by_device()
        self.assertEqual(sorted(by_device), sorted(devices), d.describe())
        stored_by_device = {}
        for device, sent in by_device.items():
            self.assertEqual([x["seq"] for x in sent], list(range(count)), device)
            stored = self.broker.peek_all(f"iothub/{device}")
            self.assertEqual([sha(m["payload"]) for m in stored], [x["sha256"] for x in sent],
                             f"{device}: stored payloads differ from those devsim sent")
            plain = [xtea_decrypt(m["payload"], tea_key) if tea_key else m["payload"]
                     for m in stored]
            self.assertEqual([devsim_seq(p) for p in plain], list(range(count)), device)
            self.assertTrue(all(m["origin"]["device_id"] == device for m in stored), device)
            stored_by_device[device] = stored
        return stored_by_device

    # -- MQTT --

    def test_mqtt_devices_are_stored_exactly_in_sequence_order(self):
        rc, d = self.mqtt("--devices", 3, "--prefix", "sim", "--key", OTHER_KEY, "--count", 25,
                          "--payload-bytes", 100)
        self.assertEqual(rc, 0, d.describe())
        s = d.summary
        self.assertEqual((s["sent"], s["acknowledged"], s["refused"], s["devices"]), (75, 75, 0, 3))
        self.assertGreater(s["rate"], 0)
        stored = self.assert_stored_as_sent(d, ["sim0", "sim1", "sim2"], 25)
        m = stored["sim1"][7]
        self.assertEqual(m["properties"]["message_id"], "sim1-7")  # the bag's $.mid
        self.assertEqual(m["properties"]["user"], [["seq", "7"]])
        self.assertEqual(len(m["payload"]), 8 + 100)

    def test_mqtt_tea_payloads_decrypt_to_the_sequence_number(self):
        rc, d = self.mqtt("--device", "dev1", "--device", "dev2", "--keys-file", self.keys,
                          "--count", 12, "--payload-bytes", 13, "--tea-key", TEA_KEY)
        self.assertEqual(rc, 0, d.describe())
        stored = self.assert_stored_as_sent(d, ["dev1", "dev2"], 12, tea_key=TEA_KEY)
        self.assertEqual(len(stored["dev1"][0]["payload"]), 24)  # 8 + 13, zero-padded to blocks
        self.assertNotEqual(devsim_seq(stored["dev1"][3]["payload"]), 3)  # really encrypted

    def test_mqtt_over_tls_at_a_rate_for_a_duration(self):
        rc, d = self.devsim("mqtt-iothub", "--port", self.broker.mqtt_tls_port, "--tls",
                            "--ca-file", self.pki["ca"], "--hub-host", HOST, "--devices", 2,
                            "--prefix", "dev", "--key", KEY, "--rate", 20, "--duration", 1.5)
        self.assertEqual(rc, 0, d.describe())
        s = d.summary
        self.assertGreater(s["sent"], 0)
        self.assertEqual(s["acknowledged"], s["sent"])
        by_device = d.sent_by_device()
        self.assertEqual(sorted(by_device), ["dev0", "dev1"])
        for device, sent in by_device.items():
            # The rate bounds what is sent: at most 20/s per device over 1.5 s (plus the first).
            self.assertLessEqual(len(sent), 31, device)
            self.assertEqual([x["seq"] for x in sent], list(range(len(sent))), device)
            stored = self.broker.peek_all(f"iothub/{device}")
            self.assertEqual([sha(m["payload"]) for m in stored], [x["sha256"] for x in sent])
            self.assertEqual([devsim_seq(m["payload"]) for m in stored], list(range(len(sent))))

    def test_mqtt_tls_without_the_ca_is_unreachable(self):
        rc, d = self.devsim("mqtt-iothub", "--port", self.broker.mqtt_tls_port, "--tls",
                            "--ca-file", self.keys,  # not a CA: the handshake cannot verify
                            "--hub-host", HOST, "--device", "dev1", "--key", KEY, "--count", 1,
                            "--timeout-ms", 10000)
        self.assertEqual(rc, 2, d.describe())
        self.assertEqual(d.summary["acknowledged"], 0)
        self.assertIsNone(self.broker.queue("iothub/dev1"))

    def test_mqtt_wrong_key_is_refused_with_exit_3(self):
        rc, d = self.mqtt("--device", "dev1", "--key", OTHER_KEY, "--count", 3)
        self.assertEqual(rc, 3, d.describe())
        self.assertIn("CONNACK 4", d.summary["error"])
        self.assertEqual(d.summary["sent"], 0)
        self.assertIsNone(self.broker.queue("iothub/dev1"))

    def test_nothing_listening_is_exit_2(self):
        [port] = free_ports(1)
        rc, d = self.devsim("mqtt-iothub", "--port", port, "--hub-host", HOST, "--device",
                            "dev1", "--key", KEY, "--timeout-ms", 10000)
        self.assertEqual(rc, 2, d.describe())
        self.assertIn("cannot connect", d.summary["error"])

    def test_cloud_to_device_messages_reach_the_device(self):
        d = Devsim(DEVSIM, ["mqtt-iothub", "--port", self.broker.mqtt_port, "--hub-host", HOST,
                            "--device", "dev3", "--key", KEY, "--count", 2, "--c2d"])
        self.addCleanup(d.close)
        d.wait_line(lambda x: x.get("subscribed") == "devices/dev3/messages/devicebound/#",
                    EVENT_TIMEOUT, "subscription")
        mosquitto_pub(self.port, "devices/dev3/messages/devicebound/%24.mid=c2d-1&cmd=reboot",
                      b"reboot\x00now", qos=1)
        mosquitto_pub(self.port, "devices/dev2/messages/devicebound", b"not for dev3", qos=1)
        mosquitto_pub(self.port, "devices/dev3/messages/devicebound", b"second", qos=1)
        d.wait_line(lambda x: base64.b64decode(x.get("payload_base64", "")) == b"second",
                    EVENT_TIMEOUT, "the second C2D message")
        self.assertEqual(d.stop(), 0, d.describe())
        c2d = d.c2d
        self.assertEqual([base64.b64decode(x["payload_base64"]) for x in c2d],
                         [b"reboot\x00now", b"second"])
        self.assertEqual(c2d[0]["properties"], {"message_id": "c2d-1", "cmd": "reboot"})
        self.assertEqual(c2d[0]["sha256"], sha(b"reboot\x00now"))
        self.assertTrue(all(x["device"] == "dev3" for x in c2d))
        self.assertEqual((d.summary["c2d_received"], d.summary["acknowledged"]), (2, 2))
        self.assert_stored_as_sent(d, ["dev3"], 2)

    # -- CoAP --

    def test_coap_confirmable_devices_are_stored_in_sequence_order(self):
        rc, d = self.coap("--devices", 3, "--prefix", "coap", "--count", 20)
        self.assertEqual(rc, 0, d.describe())
        s = d.summary
        self.assertEqual((s["sent"], s["acknowledged"], s["refused"], s["confirmable"]),
                         (60, 60, 0, True))
        self.assert_stored_as_sent(d, ["coap0", "coap1", "coap2"], 20)

    def test_coap_non_confirmable_with_tea_at_a_rate(self):
        rc, d = self.coap("--device", "c1", "--device", "c2", "--count", 10, "--non",
                          "--rate", 50, "--tea-key", TEA_KEY, "--tea-classic")
        self.assertEqual(rc, 0, d.describe())
        self.assertEqual((d.summary["acknowledged"], d.summary["confirmable"]), (20, False))
        for device in ("c1", "c2"):
            stored = self.broker.peek_all(f"iothub/{device}")
            self.assertEqual([sha(m["payload"]) for m in stored],
                             [x["sha256"] for x in d.sent_by_device()[device]])
            self.assertEqual([devsim_seq(xtea_decrypt(m["payload"], TEA_KEY, classic=True))
                              for m in stored], list(range(10)), device)
            # TEA is not XTEA: decrypting with XTEA does not give the sequence numbers.
            self.assertNotEqual([devsim_seq(xtea_decrypt(m["payload"], TEA_KEY)) for m in stored],
                                list(range(10)))

    def test_coap_with_nothing_listening_is_exit_2(self):
        [port] = free_ports(1)  # a TCP port that was free; nothing answers UDP there either
        rc, d = self.devsim("coap", "--port", port, "--device", "c1", "--count", 1,
                            "--timeout-ms", 3000)
        self.assertEqual(rc, 2, d.describe())
        self.assertEqual(d.summary["acknowledged"], 0)


class VerifyTest(unittest.TestCase):
    """holdfast-devsim verify on hand-made files: a record with what was sent passes; a lost,
    a duplicated or a reordered message fails with exit 4 and is counted."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="holdfast-it-verify-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.sent = [{"device": d, "seq": i, "message_id": f"{d}-{i}", "sha256": sha(b"%s%d" % (
            d.encode(), i))} for d in ("a", "b") for i in range(4)]

    def verify(self, record: list) -> tuple[int, dict]:
        sent, rec = os.path.join(self.dir, "sent.jsonl"), os.path.join(self.dir, "record.jsonl")
        with open(sent, "w") as f:
            f.write("".join(json.dumps(x) + "\n" for x in self.sent) + '{"sent": 8}\n')
        with open(rec, "w") as f:
            f.write("".join(json.dumps({"device_id": x["device"], "sha256": x["sha256"]}) + "\n"
                            for x in record))
        rc, d = run_devsim(DEVSIM, ["verify", "--record", rec, sent])
        return rc, d.summary

    def test_everything_once_in_order_passes_and_foreign_lines_are_ignored(self):
        other = {"device": "a", "sha256": sha(b"an earlier run")}
        rc, s = self.verify([other] + self.sent)
        self.assertEqual(rc, 0, s)
        self.assertEqual((s["sent"], s["recorded"], s["ok"]), (8, 8, True))

    def test_loss_duplication_and_reordering_fail(self):
        rc, s = self.verify(self.sent[:3] + self.sent[4:])  # a-3 lost
        self.assertEqual((rc, s["missing"], s["ok"]), (4, 1, False))
        rc, s = self.verify(self.sent + [self.sent[5]])  # b-1 twice
        self.assertEqual((rc, s["duplicated"]), (4, 1))
        rc, s = self.verify([self.sent[1], self.sent[0]] + self.sent[2:])  # a-0, a-1 swapped
        self.assertEqual((rc, s["out_of_order"]), (4, 2))


class DecryptTest(unittest.TestCase):
    """The Python TEA/XTEA the checks above rely on, against the published test vectors."""

    def test_reference_vectors(self):
        self.assertEqual(xtea_decrypt(bytes.fromhex("497df3d072612cb5"),
                                      "000102030405060708090a0b0c0d0e0f").hex(),
                         "4142434445464748")  # XTEA, Bouncy Castle's vector
        self.assertEqual(xtea_decrypt(bytes.fromhex("41ea3a0a94baa940"), "0" * 32,
                                      classic=True).hex(), "0" * 16)  # TEA, all-zero key and block


def main():
    global DEVSIM
    paths, argv = parse_binaries(__doc__, "holdfastd", "devsim")
    test_mqtt.HOLDFASTD, DEVSIM = paths["holdfastd"], paths["devsim"]
    unittest.main(argv=argv)


if __name__ == "__main__":
    main()
