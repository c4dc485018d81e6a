#!/usr/bin/env python3
"""README's "A first look", step by step, as a newcomer runs it: holdfast-hubsim (the IoT Hub
emulator) as the cloud and holdfastd configured as tools/run.sh configures it (the default
configuration plus an [[upstream]] to the emulator with the demo device keys), but on free
ports; simulated devices (holdfast-devsim: one in the Azure C SDK's AMQP dialogue, two in IoT
Hub's MQTT conventions) send XTEA-encrypted telemetry; holdfastctl (status, queues, as JSON)
shows it flowing; the emulator goes away (POST /faults {"outage": true}); the devices keep
sending and the backlog grows; the emulator comes back and the backlog drains; the emulator's
record holds every message devsim sent exactly once, per device in order (holdfast-devsim
verify, and the same check here), and each payload decrypts to its sequence number.

Run: /usr/bin/python3 test_first_run.py --holdfastd PATH --hubsim PATH --holdfastctl PATH
         --devsim PATH
"""
import base64
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_bridge  # noqa: E402  (Hubsim)
import test_mqtt  # noqa: E402  (BrokerTest, the binary)
from devsim_harness import (Devsim, devsim_seq, parse_binaries, run_devsim,  # noqa: E402
                            xtea_decrypt)
from harness import CLIENT_TIMEOUT, wait_until  # noqa: E402

HOLDFASTCTL = None
DEVSIM = None
TEA_KEY = "0123456789abcdef0123456789abcdef"  # README's
DRAIN_TIMEOUT = 120.0  # the bridge reconnects with backoff once the emulator is back
STATE_TIMEOUT = 60.0  # holdfastctl status following a change (generous: a loaded machine)
QUEUES = ["iothub/dev1", "iothub/dev2", "iothub/dev3"]


class FirstRunTest(test_mqtt.BrokerTest):

    def setUp(self):
        # tools/run.sh: demo devices dev1 .. dev5 with generated keys, shared by both sides.
        self.demo = tempfile.mkdtemp(prefix="holdfast-it-first-run-")
        self.addCleanup(shutil.rmtree, self.demo, True)
        self.devices = os.path.join(self.demo, "devices")
        with open(self.devices, "w") as f:
            f.write("# Demo devices shared by holdfastd and holdfast-hubsim\n")
            for i in range(1, 6):
                f.write(f"dev{i} {base64.b64encode(os.urandom(32)).decode()}\n")
        self.hub = test_bridge.Hubsim(self.demo, self.devices)
        self.hub.start()
        self.addCleanup(self.hub.stop)
        # run.sh's holdfast.toml: the defaults and this upstream. The harness adds the
        # listeners (MQTT, AMQP, CoAP) and the admin endpoint on free ports.
        self.BROKER = {"amqp": True, "coap": True, "log_level": "info", "extra_config": f"""
[[upstream]]
name = "hub"
kind = "emulator"
host = "localhost"
port = {self.hub.amqp_port}
ca_file = "{self.hub.tls_dir}/ca.pem"
auth = "device-keys"
device_keys_file = "{self.devices}"
"""}
        super().setUp()
        self.sent: dict[str, list[dict]] = {}  # by device, in the order sent

    # -- what the newcomer types --

    def holdfastctl(self, *args):
        r = subprocess.run([HOLDFASTCTL, "--admin", f"http://127.0.0.1:{self.broker.admin_port}",
                            *args, "--json"], capture_output=True, timeout=CLIENT_TIMEOUT,
                           text=True)
        self.assertEqual(r.returncode, 0, f"holdfastctl {args}: {r.stdout}{r.stderr}")
        return json.loads(r.stdout)

    def depths(self) -> dict:
        return {q["name"]: q["depth"] for q in self.holdfastctl("queues")
                if q["name"] in QUEUES}

    def upstream(self) -> dict:
        [hub] = self.holdfastctl("status")["upstreams"]
        return hub

    def simulate(self, count: int, seed: int):
        """The README's two devsim commands, run side by side: dev1 over AMQP (the C SDK's
        dialogue), dev2 and dev3 over MQTT; each prints a JSON line per message sent."""
        common = ["--hub-host", "localhost", "--keys-file", self.devices, "--count", count,
                  "--tea-key", TEA_KEY, "--seed", seed]
        amqp = Devsim(DEVSIM, ["amqp-iothub", "--port", self.broker.amqp_port, "--device",
                               "dev1", "--batch", 5] + common)
        mqtt = Devsim(DEVSIM, ["mqtt-iothub", "--port", self.broker.mqtt_port, "--device",
                               "dev2", "--device", "dev3"] + common)
        for name, d in (("amqp", amqp), ("mqtt", mqtt)):
            self.assertEqual(d.wait(), 0, d.describe())  # acknowledged once durable
            self.assertEqual(d.summary["acknowledged"], count * (1 if name == "amqp" else 2))
            # As the README's shell redirection: the whole output, summary included.
            with open(os.path.join(self.demo, f"sent-{name}-{seed}.jsonl"), "w") as f:
                f.write("".join(json.dumps(x) + "\n" for x in d.lines))
            for device, lines in d.sent_by_device().items():
                self.sent.setdefault(device, []).extend(lines)

    def wait_upstream(self, connected: bool, forwarded: int):
        """Until holdfastctl status shows the upstream so (its counters follow the commits)."""
        wait_until(lambda: (lambda u: u["connected"] == connected and
                            u["forwarded"] == forwarded)(self.upstream()), STATE_TIMEOUT,
                   f"holdfastctl status: upstream connected={connected}, {forwarded} forwarded")

    def wait_drained(self, timeout: float):
        wait_until(lambda: self.depths() == {q: 0 for q in QUEUES}, timeout,
                   "holdfastctl queues: every device queue drained")

    # -- the walk-through --

    def test_devices_outage_backlog_drain_and_nothing_lost(self):
        s = self.holdfastctl("status")
        self.assertTrue(s["ready"])
        self.assertEqual(sorted(l["protocol"] for l in s["listeners"]), ["amqp", "coap", "mqtt"])

        # Devices send; the bridge forwards to the emulator.
        self.simulate(20, seed=1)
        self.wait_drained(DRAIN_TIMEOUT)
        self.wait_upstream(connected=True, forwarded=60)

        # The cloud goes away: Holdfast keeps acknowledging (once durable) and holds it all.
        self.hub.faults(outage=True)
        wait_until(lambda: not self.upstream()["connected"], STATE_TIMEOUT,
                   "holdfastctl status: the upstream disconnected")
        self.simulate(15, seed=2)
        self.assertEqual(self.depths(), {q: 15 for q in QUEUES})  # the backlog
        self.simulate(15, seed=3)
        self.assertEqual(self.depths(), {q: 30 for q in QUEUES})  # ... grows
        self.assertEqual(len(self.hub.accepted()), 60)  # nothing reached the cloud meanwhile

        # The cloud is back: the backlog drains.
        self.hub.faults(outage=False)
        self.wait_drained(DRAIN_TIMEOUT)
        self.wait_upstream(connected=True, forwarded=150)

        # The emulator's record: every message sent, exactly once per device, in order.
        for device in ("dev1", "dev2", "dev3"):
            recorded = self.hub.of_device(device)
            self.assertEqual([r["sha256"] for r in recorded],
                             [x["sha256"] for x in self.sent[device]], device)
            seqs = [devsim_seq(xtea_decrypt(base64.b64decode(r["payload_base64"]), TEA_KEY))
                    for r in recorded]
            self.assertEqual(seqs, list(range(20)) + list(range(15)) + list(range(15)), device)
        # ... as the README checks it.
        sent_files = sorted(glob.glob(os.path.join(self.demo, "sent-*.jsonl")))  # as a shell
        self.assertEqual(len(sent_files), 6)
        rc, v = run_devsim(DEVSIM, ["verify", "--record", self.hub.record, *sent_files])
        self.assertEqual(rc, 0, v.describe())
        self.assertEqual((v.summary["sent"], v.summary["recorded"], v.summary["missing"],
                          v.summary["duplicated"], v.summary["out_of_order"]), (150, 150, 0, 0, 0))


def main():
    global HOLDFASTCTL, DEVSIM
    paths, argv = parse_binaries(__doc__, "holdfastd", "hubsim", "holdfastctl", "devsim")
    test_mqtt.HOLDFASTD, test_bridge.HUBSIM = paths["holdfastd"], paths["hubsim"]
    HOLDFASTCTL, DEVSIM = paths["holdfastctl"], paths["devsim"]
    unittest.main(argv=argv)


if __name__ == "__main__":
    main()
