#!/usr/bin/env python3
"""holdfastd with devices that speak IoT Hub's MQTT conventions, unchanged: a username
{host}/{device}/?api-version=... with a SAS token as password, telemetry on
devices/{id}/messages/events/{property bag}. Clients: paho-mqtt; tokens minted here with hmac.

Run: /usr/bin/python3 test_iothub_mqtt.py --holdfastd PATH
"""
import argparse
import base64
import hashlib
import hmac
import os
import shutil
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_mqtt  # noqa: E402  (BrokerTest, the binary)
from harness import PahoClient, wait_until  # noqa: E402

HOST = "myhub.azure-devices.net"
KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # IOTHUB.md's test key
OTHER_KEY = base64.b64encode(bytes(range(32, 64))).decode()
API = "?api-version=2021-04-12"


def token(device: str, key: str = KEY, expiry: int = None) -> str:
    """A SAS token as the Azure SDKs mint it (sr URL-encoded)."""
    se = int(time.time()) + 3600 if expiry is None else expiry
    sr = urllib.parse.quote(f"{HOST}/devices/{device}", safe="")
    digest = hmac.new(base64.b64decode(key), f"{sr}\n{se}".encode(), hashlib.sha256).digest()
    sig = urllib.parse.quote(base64.b64encode(digest).decode(), safe="")
    return f"SharedAccessSignature sr={sr}&sig={sig}&se={se}"


class IotHubLoginTest(test_mqtt.BrokerTest):
    """The gateway knows dev1's key (device-keys file); dev9 is not listed (token passthrough)."""

    @classmethod
    def setUpClass(cls):
        cls.keys_dir = tempfile.mkdtemp(prefix="holdfast-it-keys-")
        keys = os.path.join(cls.keys_dir, "device-keys")
        with open(keys, "w") as f:
            f.write(f"# test devices\ndev1 {KEY}\n")
        cls.BROKER = {"extra_config": f"""
[[upstream]]
name = "hub"
kind = "emulator"
host = "127.0.0.1"
auth = "device-keys"
device_keys_file = "{keys}"
"""}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.keys_dir, ignore_errors=True)

    def device(self, device: str, password: str, client_id: str = None) -> PahoClient:
        c = PahoClient(self.broker.mqtt_port, client_id or device)
        c.client.username_pw_set(f"{HOST}/{device}/{API}", password)
        self.addCleanup(c.close)
        return c

    def test_valid_token_publishes_with_the_property_bag_parsed(self):
        c = self.device("dev1", token("dev1"))
        c.connect()
        bag = "%24.mid=msg-1&%24.ct=application%2Fjson&%24.ce=utf-8&color=red&k%201=v%2F2"
        c.publish_wait(f"devices/dev1/messages/events/{bag}", b'{"t": 21.5}', qos=1)
        [m] = self.broker.peek_all("iothub/dev1")
        self.assertEqual(base64.b64decode(m["payload_base64"]), b'{"t": 21.5}')
        p = m["properties"]
        self.assertEqual(p["message_id"], "msg-1")
        self.assertEqual(p["content_type"], "application/json")
        self.assertEqual(p["content_encoding"], "utf-8")
        self.assertEqual(p["user"], [["color", "red"], ["k 1", "v/2"]])
        self.assertEqual(m["origin"]["device_id"], "dev1")

    def test_bad_signature_is_refused_with_return_code_4(self):
        c = self.device("dev1", token("dev1", key=OTHER_KEY))
        c.connect(expect_rc=4)

    def test_expired_token_is_refused(self):
        c = self.device("dev1", token("dev1", expiry=int(time.time()) - 3600))
        c.connect(expect_rc=4)

    def test_client_id_must_be_the_device_id(self):
        c = self.device("dev1", token("dev1"), client_id="someone-else")
        c.connect(expect_rc=2)

    def test_a_device_may_publish_only_as_itself(self):
        c = self.device("dev1", token("dev1"))
        c.connect()
        c.publish("devices/dev2/messages/events", b"spoofed", qos=1)
        c.wait_disconnected()  # MQTT 3.1.1 has no negative PUBACK: the connection is closed
        self.assertIsNone(self.broker.queue("iothub/dev2"))

    def test_unlisted_device_is_passed_through_while_its_token_is_valid(self):
        c = self.device("dev9", token("dev9", key=OTHER_KEY))
        c.connect()
        c.publish_wait("devices/dev9/messages/events", b"passthrough", qos=1)
        wait_until(lambda: self.broker.depth("iothub/dev9") == 1, 10, "dev9 stored")
        expired = self.device("dev9", token("dev9", key=OTHER_KEY, expiry=int(time.time()) - 3600),
                              client_id="dev9")
        c.disconnect()
        expired.connect(expect_rc=4)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holdfastd", required=True, help="path of the holdfastd binary")
    args, rest = parser.parse_known_args()
    test_mqtt.HOLDFASTD = os.path.abspath(args.holdfastd)
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
