#!/usr/bin/env python3
"""holdfastd with devices that speak IoT Hub's MQTT conventions, unchanged: a username
{host}/{device}/?api-version=... with a SAS token as password, telemetry on
devices/{id}/messages/events/{property bag}; and MQTT over TLS (8883) as those devices use it.
Clients: paho-mqtt and mosquitto_pub/sub; tokens minted here with hmac, certificates with openssl.

Run: /usr/bin/python3 test_iothub_mqtt.py --holdfastd PATH
"""
import argparse
import base64
import hashlib
import hmac
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_mqtt  # noqa: E402  (BrokerTest, the binary)
from harness import (  # noqa: E402
    EVENT_TIMEOUT, LOCALHOST, PahoClient, make_test_pki, mosquitto_pub, payload, sha, wait_until)

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


class TlsListenerTest(test_mqtt.BrokerTest):
    """A second MQTT listener with TLS; one server behind both ports."""

    CLIENT_CA = False

    @classmethod
    def setUpClass(cls):
        cls.pki_dir = tempfile.mkdtemp(prefix="holdfast-it-pki-")
        cls.pki = make_test_pki(cls.pki_dir, clients=("dev1",))
        keys = f'cert_file = "{cls.pki["server_cert"]}"\nkey_file = "{cls.pki["server_key"]}"\n'
        if cls.CLIENT_CA:
            keys += f'ca_file = "{cls.pki["ca"]}"\n'
        cls.BROKER = {"mqtt_tls_config": keys}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pki_dir, ignore_errors=True)

    def tls_client(self, client_id: str, cert: str = None, clean_session: bool = True) -> PahoClient:
        c = PahoClient(self.broker.mqtt_tls_port, client_id, clean_session=clean_session)
        c.client.tls_set(ca_certs=self.pki["ca"], certfile=self.pki["client_cert"].get(cert),
                         keyfile=self.pki["client_key"].get(cert))
        self.addCleanup(c.close)
        return c

    def test_mosquitto_pub_over_tls_is_stored_byte_for_byte(self):
        data = payload(self.rng, 1, 3000)
        out = mosquitto_pub(self.broker.mqtt_tls_port, "devices/dev1/messages/events", data, qos=1,
                            extra=("--cafile", self.pki["ca"]))
        self.assertIn("received PUBACK", out)
        [m] = self.broker.peek_all("iothub/dev1")
        self.assertEqual(sha(base64.b64decode(m["payload_base64"])), sha(data))

    def test_iothub_device_over_tls_reaches_a_plain_subscriber(self):
        sub = PahoClient(self.broker.mqtt_port, "local-consumer")
        self.addCleanup(sub.close)
        sub.connect()
        sub.subscribe([("devices/+/messages/events/#", 1)])
        dev = self.tls_client("dev1")
        dev.client.username_pw_set(f"{HOST}/dev1/{API}", token("dev1"))
        dev.connect()
        bag = "%24.mid=m1&color=red"
        data = payload(self.rng, 2, 500)
        dev.publish_wait(f"devices/dev1/messages/events/{bag}", data, qos=1)
        [got] = sub.inbox.wait_count(1)
        self.assertEqual(sha(got.payload), sha(data))

    def test_a_persistent_session_is_the_same_on_both_ports(self):
        first = PahoClient(self.broker.mqtt_port, "roamer", clean_session=False)
        first.connect()
        first.subscribe([("roam/#", 1)])
        first.disconnect()
        first.close()
        self.broker.wait_client_gone("roamer")
        mosquitto_pub(self.broker.mqtt_port, "roam/1", b"while away", qos=1)
        again = self.tls_client("roamer", clean_session=False)
        again.connect()
        self.assertEqual(again.connack["session_present"], 1)
        [m] = again.inbox.wait_count(1)
        self.assertEqual((m.topic, m.payload), ("roam/1", b"while away"))

    def test_plain_mqtt_on_the_tls_port_is_closed_and_others_go_on(self):
        with socket.create_connection((LOCALHOST, self.broker.mqtt_tls_port), timeout=10) as s:
            s.sendall(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")  # a plain CONNECT
            s.settimeout(EVENT_TIMEOUT)
            data = b""
            try:
                while chunk := s.recv(4096):
                    data += chunk
            except ConnectionResetError:
                pass  # closed with our CONNECT unread: a reset, as good as a close here
            self.assertNotIn(b"\x20\x02", data[:2], "a plain CONNACK came back")
        c = self.tls_client("after-garbage")
        c.connect()
        c.publish_wait("tls/ok", b"fine", qos=1)

    def test_an_untrusted_server_certificate_is_rejected_by_the_client(self):
        # The client checks the chain: without the test CA, the handshake must fail.
        ctx = ssl.create_default_context()
        with socket.create_connection((LOCALHOST, self.broker.mqtt_tls_port), timeout=10) as raw:
            with self.assertRaises(ssl.SSLCertVerificationError):
                ctx.wrap_socket(raw, server_hostname="localhost")


class ClientCertificateTest(TlsListenerTest):
    """The TLS listener requires a client certificate signed by ca_file."""

    CLIENT_CA = True

    def test_a_client_without_a_certificate_is_refused(self):
        r = subprocess.run(["mosquitto_pub", "-h", LOCALHOST, "-p", str(self.broker.mqtt_tls_port),
                            "--cafile", self.pki["ca"], "-t", "x", "-m", "y", "-q", "1"],
                           capture_output=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIsNone(self.broker.queue("x"))

    def test_a_client_with_a_certificate_publishes(self):
        c = self.tls_client("with-cert", cert="dev1")
        c.connect()
        c.publish_wait("cert/ok", b"signed", qos=1)

    # Clients of the base class have no certificate here.
    test_mosquitto_pub_over_tls_is_stored_byte_for_byte = None
    test_iothub_device_over_tls_reaches_a_plain_subscriber = None
    test_a_persistent_session_is_the_same_on_both_ports = None
    test_plain_mqtt_on_the_tls_port_is_closed_and_others_go_on = None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holdfastd", required=True, help="path of the holdfastd binary")
    args, rest = parser.parse_known_args()
    test_mqtt.HOLDFASTD = os.path.abspath(args.holdfastd)
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
