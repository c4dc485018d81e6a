#!/usr/bin/env python3
"""The bridge end to end over IoT Hub's MQTT endpoint: holdfastd forwards its device queues to
holdfast-hubsim's MQTT listener (TLS, one connection per device, SAS token as password, QoS 1
publishes with property bags). The AMQP bridge's cases (test_bridge.py) run again here, except
where MQTT behaves differently: those are replaced below by what MQTT does instead.

Run: /usr/bin/python3 test_bridge_mqtt.py --holdfastd PATH --hubsim PATH
"""
import argparse
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_bridge  # noqa: E402
import test_mqtt  # noqa: E402
from harness import EVENT_TIMEOUT, PahoClient, wait_until  # noqa: E402


class MqttBridgeTest(test_bridge.BridgeTest):
    KIND = "iothub-mqtt"

    # 100,000 messages over ten MQTT connections: the AMQP run covers the store side of it.
    test_100k_backlog_with_sigkills_during_outage_and_drain = None

    def test_throttling_delays_but_loses_nothing(self):
        # MQTT has no refusal: the hub closes the connection, and the bridge resends.
        self.hub.faults(throttle_per_s=5)
        bodies = [test_bridge.payload(self.rng, i, 40) for i in range(15)]
        self.publish("dev1", bodies)
        self.wait_forwarded("dev1", 15)
        self.assert_in_order("dev1", bodies)
        self.assertGreater(self.hub.status()["refused"], 0,
                           "the hub never throttled: the test proves nothing")

    def test_an_unauthorized_device_goes_to_dead_letters_and_others_flow(self):
        self.skipTest("over MQTT a refused publish only closes the connection: see the next test")

    def test_a_disabled_device_is_held_and_others_flow(self):
        self.hub.faults(unauthorized_devices=["dev2"])
        self.publish("dev2", [b"held"])
        self.publish("dev1", [b"flows"])
        self.wait_forwarded("dev1", 1)
        wait_until(lambda: self.hub.status()["refused"] >= 1, EVENT_TIMEOUT,
                   "the hub refused dev2's message")
        self.assertEqual(self.hub.of_device("dev2"), [])
        self.assertEqual(self.broker.depth("iothub/dev2"), 1, "dev2's message is kept")
        self.hub.faults(unauthorized_devices=[])
        self.wait_forwarded("dev2", 1)
        self.assertIsNone(self.broker.queue("deadletter/iothub/dev2"))

    def test_an_untrusted_certificate_is_refused_and_logged(self):
        self.broker.stop()
        self.broker.extra_config = self.broker.extra_config.replace(
            f"{self.hub.tls_dir}/ca.pem", "/etc/ssl/certs/ca-certificates.crt")
        self.broker.start()
        self.publish("dev1", [b"must not leave"])
        wait_until(lambda: "over MQTT" in self.broker.log_text(), EVENT_TIMEOUT,
                   "the TLS failure logged")
        self.assertEqual(self.hub.of_device("dev1"), [])
        self.assertEqual(self.hub.status()["connections"], 0)
        self.assertEqual(self.broker.depth("iothub/dev1"), 1)

    def tls_failure_logged(self) -> bool:
        # Paho says no more than this about a TLS failure.
        return "over MQTT: TCP/TLS connect failure" in self.broker.log_text()

    def c2d_completed(self) -> int:
        # Over MQTT the hub counts a C2D message complete once it handed it to the bridge.
        return self.hub.status()["c2d"]["mqtt_delivered"]

    def test_the_devices_answer_to_cloud_to_device_is_relayed_to_the_hub(self):
        self.skipTest("over MQTT Paho acknowledges a C2D message as it arrives, and IoT Hub's "
                      "MQTT has no reject or abandon")



class MqttTokenPassthroughTest(test_bridge.TokenPassthroughTest):
    KIND = "iothub-mqtt"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holdfastd", required=True, help="path of the holdfastd binary")
    parser.add_argument("--hubsim", required=True, help="path of the holdfast-hubsim binary")
    args, rest = parser.parse_known_args()
    test_mqtt.HOLDFASTD = os.path.abspath(args.holdfastd)
    test_bridge.HUBSIM = os.path.abspath(args.hubsim)
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
