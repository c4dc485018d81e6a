#!/usr/bin/env python3
"""holdfast-hubsim on its own, as a device sees IoT Hub's MQTT endpoint: paho-mqtt over TLS
(the emulator's generated CA), SAS-token logins against its device registry, telemetry with
property bags recorded as a hub records them, the refusals that close the connection (QoS 2,
another device's topic, oversize, faults), cloud-to-device messages on devicebound, session
takeover and token expiry.

Run: /usr/bin/python3 test_hubsim.py --hubsim PATH
"""
import argparse
import base64
import os
import random
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_bridge  # noqa: E402  (Hubsim, sas_token, the keys)
from harness import SEED, PahoClient, payload, sha, wait_until  # noqa: E402

HOST = "localhost"  # the hub host name tokens and usernames name (Hubsim starts it so)
API = "?api-version=2021-04-12"


class HubsimMqttTest(unittest.TestCase):
    def setUp(self):
        self.rng = random.Random(f"{SEED}/{self.id()}")
        self.dir = tempfile.mkdtemp(prefix="holdfast-it-hubsim-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        devices = os.path.join(self.dir, "devices")
        with open(devices, "w") as f:
            f.write(f"dev1 {test_bridge.KEY1}\ndev2 {test_bridge.KEY2}\n")
        self.hub = test_bridge.Hubsim(self.dir, devices)
        self.hub.start()
        self.addCleanup(self.hub.stop)

    def device(self, device: str, key: str = test_bridge.KEY1, client_id: str = None,
               password: str = None, clean_session: bool = True) -> PahoClient:
        c = PahoClient(self.hub.mqtt_port, client_id or device, clean_session=clean_session)
        c.client.tls_set(ca_certs=os.path.join(self.hub.tls_dir, "ca.pem"))
        c.client.username_pw_set(f"{HOST}/{device}/{API}",
                                 password or test_bridge.sas_token(device, key))
        self.addCleanup(c.close)
        return c

    def test_telemetry_is_recorded_with_the_property_bag(self):
        c = self.device("dev1")
        c.connect()
        data = payload(self.rng, 1, 2000)
        bag = "%24.mid=m-1&%24.ct=application%2Fjson&%24.ce=utf-8&color=red"
        c.publish_wait(f"devices/dev1/messages/events/{bag}", data, qos=1)
        c.publish_wait("devices/dev1/messages/events/", b"qos 0, no bag", qos=0)
        wait_until(lambda: len(self.hub.of_device("dev1")) == 2, 10, "two records")
        first, second = self.hub.of_device("dev1")
        self.assertEqual(first["sha256"], sha(data))
        self.assertEqual(first["system_properties"]["message-id"], "m-1")
        self.assertEqual(first["system_properties"]["content-type"], "application/json")
        self.assertEqual(first["system_properties"]["iothub-connection-device-id"], "dev1")
        self.assertEqual(first["properties"], {"color": "red"})
        self.assertEqual(base64.b64decode(second["payload_base64"]), b"qos 0, no bag")

    def test_logins_are_checked_against_the_registry(self):
        self.device("dev1", key=test_bridge.KEY2).connect(expect_rc=4)  # wrong key
        self.device("nobody").connect(expect_rc=5)  # not registered
        plain = PahoClient(self.hub.mqtt_port, "dev1")
        plain.client.tls_set(ca_certs=os.path.join(self.hub.tls_dir, "ca.pem"))
        self.addCleanup(plain.close)
        plain.connect(expect_rc=5)  # no IoT Hub username at all
        self.device("dev1", client_id="not-dev1").connect(expect_rc=2)

    def test_refusals_close_the_connection_and_record_nothing(self):
        cases = [
            ("QoS 2", lambda c: c.publish("devices/dev1/messages/events/", b"q2", qos=2)),
            ("other device", lambda c: c.publish("devices/dev2/messages/events/", b"x", qos=1)),
            ("oversize", lambda c: c.publish("devices/dev1/messages/events/",
                                             b"\0" * (257 * 1024), qos=1)),
        ]
        for what, act in cases:
            with self.subTest(what):
                c = self.device("dev1")
                c.connect()
                act(c)
                # The hub's side: paho's thread may die on the closed TLS socket mid-write
                # (SSLEOFError) without reporting the disconnection.
                wait_until(lambda: self.hub.status()["connections"] == 0, 15,
                           f"the hub closing the connection ({what})")
        self.device("dev1").connect()  # the device itself is fine
        self.assertEqual(self.hub.accepted(), [])

    def test_faults_apply_to_mqtt_devices(self):
        self.hub.faults(unauthorized_devices=["dev2"])
        c = self.device("dev2", key=test_bridge.KEY2)
        c.connect()
        c.publish("devices/dev2/messages/events/", b"disabled", qos=1)
        c.wait_disconnected()
        self.hub.faults(unauthorized_devices=[], outage=True)
        down = self.device("dev1")
        with self.assertRaises(OSError):
            down.connect()
        self.hub.faults(outage=False)
        up = self.device("dev1")
        up.connect()
        up.publish_wait("devices/dev1/messages/events/", b"after the outage", qos=1)
        self.assertEqual([m["device_id"] for m in self.hub.accepted()], ["dev1"])

    def test_cloud_to_device_on_devicebound(self):
        c = self.device("dev1")
        c.connect()
        granted = c.subscribe([("devices/dev1/messages/devicebound/#", 1),
                               ("devices/dev2/messages/devicebound/#", 1),
                               ("anything/else", 1),
                               ("$iothub/twin/res/#", 0)])
        self.assertEqual(granted, [1, 128, 128, 0])
        self.hub.c2d("dev1", b"open the valve", message_id="c2d-1", valve="3")
        [m] = c.inbox.wait_count(1)
        self.assertEqual(m.payload, b"open the valve")
        self.assertEqual(m.qos, 1)
        self.assertTrue(m.topic.startswith("devices/dev1/messages/devicebound/"), m.topic)
        self.assertIn("%24.mid=c2d-1", m.topic)
        self.assertIn("valve=3", m.topic)
        self.assertEqual(self.hub.status()["c2d"]["mqtt_delivered"], 1)

    def test_cloud_to_device_sent_while_offline_arrives_on_subscribe(self):
        self.hub.c2d("dev1", b"one", message_id="a")
        self.hub.c2d("dev1", b"two", message_id="b")
        self.assertEqual(self.hub.status()["c2d"]["mqtt_delivered"], 0)
        c = self.device("dev1")
        c.connect()
        c.subscribe([("devices/dev1/messages/devicebound/#", 1)])
        got = c.inbox.wait_count(2)
        self.assertEqual([m.payload for m in got], [b"one", b"two"])
        self.assertEqual(self.hub.status()["c2d"]["mqtt_delivered"], 2)

    def test_a_second_connection_takes_the_session_over(self):
        first = self.device("dev1")
        first.connect()
        second = self.device("dev1")
        second.connect()
        first.wait_disconnected()
        second.publish_wait("devices/dev1/messages/events/", b"from the second", qos=1)

    def test_the_connection_closes_when_the_token_expires(self):
        # Accepted within the 5-minute skew IoT Hub allows, closed when that runs out (~2 s).
        se = int(time.time()) - 298
        token = test_bridge.sas_token("dev1", test_bridge.KEY1, expiry=se)
        c = self.device("dev1", password=token)
        c.connect()
        c.wait_disconnected(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hubsim", required=True, help="path of the holdfast-hubsim binary")
    args, rest = parser.parse_known_args()
    test_bridge.HUBSIM = os.path.abspath(args.hubsim)
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
