#!/usr/bin/python3
"""Integration tests of holdfastctl's commands that change things or need the daemon's memory:
import, deadletters, replay, bridge pause|resume, devices.

Like test_holdfastctl.py (whose CtlTest this reuses): a holdfastd per test on free ports with a
fresh store, devices published with mosquitto_pub and paho-mqtt, the holdfastctl binary run as an
operator would, --json parsed and checked, exit statuses checked (0 ok, 1 failed, 2 usage, 3
daemon needed or unreachable, 4 not found, 5 store held by another process). Messages are
compared by payload hash and every property. The bridge tests run holdfast-hubsim (the IoT Hub
emulator) as the upstream, as test_bridge.py does.

Run:  /usr/bin/python3 test/integration/test_holdfastctl_ops.py --holdfastd build/.../holdfastd \\
          --holdfastctl build/.../holdfastctl --hubsim build/.../holdfast-hubsim [-v] [-k NAME]
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_bridge  # noqa: E402  (Hubsim, KEY1, KEY2)
import test_holdfastctl as base  # noqa: E402  (CtlTest, the binaries)
from harness import (  # noqa: E402
    CLIENT_TIMEOUT, EVENT_TIMEOUT, LOCALHOST, PahoClient, free_ports, mosquitto_pub, payload,
    sha, wait_until)
from test_iothub_mqtt import API, HOST, token  # noqa: E402

# What identifies a message, whichever queue and sequence number it has.
KEPT = ("address", "payload_base64", "received_at_ms", "origin", "properties")


def kept(m: dict) -> dict:
    return {k: m.get(k) for k in KEPT + ("amqp_bare_base64",)}


def dead_letter_line(original: str, seq: int, reason: str, data: bytes) -> dict:
    """A message as export writes it for a dead-letter queue."""
    device = original.split("/")[-1]
    return {"address": f"devices/{device}/messages/events",
            "payload_base64": base64.b64encode(data).decode(), "received_at_ms": 1700000000000 + seq,
            "origin": {"protocol": "mqtt", "client_id": device, "device_id": device},
            "properties": {"message_id": f"m-{seq}", "correlation_id": "", "content_type": "",
                           "content_encoding": "", "user": [["seq", str(seq)]]},
            "dead_letter": {"reason": reason, "original_queue": original, "original_seq": seq,
                            "dead_lettered_at_ms": 1700000001000 + seq}}


class OpsTest(base.CtlTest):

    def write_lines(self, name: str, lines: list) -> str:
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            for line in lines:
                f.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
        return path

    def make_dlq(self, dlq: str, original: str, reasons: list, store=None) -> list:
        """Imports len(reasons) dead letters into `dlq`; returns their payloads."""
        datas = [payload(self.rng, i, 30 + i) for i in range(len(reasons))]
        path = self.write_lines(f"{dlq.replace('/', '_')}.jsonl", [
            dead_letter_line(original, i + 1, r, d) for i, (r, d) in enumerate(zip(reasons, datas))])
        self.ctl("import", dlq, path, store=store)
        return datas


# ---- import ------------------------------------------------------------------------------------


class ImportTest(OpsTest):

    def test_export_then_import_keeps_bytes_and_properties(self):
        sent = [payload(self.rng, i, self.rng.randrange(1, 2000)) for i in range(30)]
        for i, data in enumerate(sent):
            self.pub("src", data, bag=f"%24.mid=id-{i}&%24.ct=application%2Fx-tea&k=v{i}")
        exported = os.path.join(self.workdir, "src.jsonl")
        self.ctl("export", "iothub/src", "--out", exported)
        summary = self.ctl_json("import", "iothub/copy", exported)
        self.assertEqual((summary["queue"], summary["imported"], summary["first_seq"],
                          summary["last_seq"]), ("iothub/copy", 30, 1, 30))
        original = self.broker.peek_all("iothub/src")
        copy = self.broker.peek_all("iothub/copy")
        self.assertEqual([sha(m["payload"]) for m in copy], [sha(d) for d in sent])
        self.assertEqual([kept(m) for m in copy], [kept(m) for m in original])
        self.assertEqual(copy[3]["properties"]["message_id"], "id-3")
        self.assertEqual(copy[3]["properties"]["user"], [["k", "v3"]])
        # Imported again (from stdin, text output): appended after the first copy.
        with open(exported, "rb") as f:
            r = self.ctl("import", "iothub/copy", stdin=f)
        self.assertIn("imported 30 messages from stdin into queue 'iothub/copy'", r.out)
        self.assertIn("(#31 to #60)", r.out)
        self.assertEqual(self.broker.depth("iothub/copy"), 60)
        self.assertEqual(self.broker.depth("iothub/src"), 30, "the source is untouched")

    def test_a_bad_line_imports_nothing_and_names_the_line(self):
        good = dead_letter_line("iothub/x", 1, "expired", b"one")
        no_payload = dict(good)
        del no_payload["payload_base64"]
        bad_base64 = dict(good, payload_base64="%%%")
        bad_protocol = dict(good, origin={"protocol": "carrier-pigeon"})
        for lines, line_no, words in (
                ([good, "{not json", good], 2, "not JSON"),
                ([good, good, no_payload], 3, "payload_base64"),
                ([bad_base64], 1, "base64"),
                ([good, bad_protocol], 2, "carrier-pigeon")):
            path = self.write_lines("bad.jsonl", lines)
            r = self.ctl("import", "iothub/bad", path, expect=2)
            self.assertIn(f"line {line_no}", r.err)
            self.assertIn(words, r.err)
            self.assertIn("holdfastctl export", r.err)
            self.assertIsNone(self.broker.queue("iothub/bad"), "nothing may be appended")
        r = self.ctl("import", "iothub/bad", os.path.join(self.workdir, "missing.jsonl"), expect=1)
        self.assertIn("cannot read", r.err)

    def test_import_into_a_stopped_daemons_store(self):
        sent = [payload(self.rng, i, 100) for i in range(5)]
        for data in sent:
            self.pub("off", data)
        exported = os.path.join(self.workdir, "off.jsonl")
        self.ctl("export", "iothub/off", "--out", exported)
        original = self.broker.peek_all("iothub/off")
        store = self.broker.store_path
        # While holdfastd holds the store and is not reachable at --admin: refused, with its pid.
        nowhere = f"http://{LOCALHOST}:{free_ports(1)[0]}"
        r = self.ctl("import", "iothub/restored", exported, store=store, admin=nowhere, expect=5)
        self.assertIn(f"process {self.broker.proc.pid} holds the store", r.err)
        self.assertIsNone(self.broker.queue("iothub/restored"))
        self.assertEqual(self.broker.stop(), 0)
        s = self.ctl_json("import", "iothub/restored", exported, store=store)
        self.assertEqual((s["imported"], s["last_seq"]), (5, 5))
        self.assertIn("the store at", s["into"])
        self.broker.restart()
        self.assertEqual([kept(m) for m in self.broker.peek_all("iothub/restored")],
                         [kept(m) for m in original])
        self.assertEqual(self.broker.depth("iothub/off"), 5)

    def test_no_store_is_never_created(self):
        self.assertEqual(self.broker.stop(), 0)
        path = self.write_lines("one.jsonl", [dead_letter_line("iothub/x", 1, "expired", b"1")])
        r = self.ctl("import", "iothub/x", path, expect=3)
        self.assertIn("no store at", r.err)
        self.assertFalse(os.path.exists(self.no_store))


# ---- deadletters and replay --------------------------------------------------------------------


class DeadLettersTest(OpsTest):

    REFUSED = "upstream hub: amqp:unauthorized-access"

    def setUp(self):
        super().setUp()
        self.dl1 = self.make_dlq("deadletter/iothub/dl1", "iothub/dl1",
                                 [f"{self.REFUSED}: device dl1 is not allowed"] * 3 + ["expired"])
        self.dl2 = self.make_dlq("deadletter/iothub/dl2", "iothub/dl2", ["quota"])

    def test_list_with_counts_reasons_and_origins(self):
        got = {q["queue"]: q for q in self.ctl_json("deadletters")}
        self.assertEqual(sorted(got), ["deadletter/iothub/dl1", "deadletter/iothub/dl2"])
        dl1 = got["deadletter/iothub/dl1"]
        self.assertEqual(dl1["count"], 4)
        self.assertEqual(dl1["reasons"], {self.REFUSED: 3, "expired": 1})
        self.assertEqual(dl1["original_queues"], {"iothub/dl1": 4})
        self.assertGreater(dl1["oldest_age_ms"], 0)
        self.assertEqual(dl1["bytes"], self.broker.queue("deadletter/iothub/dl1")["bytes"])
        self.assertEqual(got["deadletter/iothub/dl2"]["reasons"], {"quota": 1})
        r = self.ctl("deadletters")
        lines = r.out.splitlines()
        self.assertEqual(lines[0].split(), ["QUEUE", "COUNT", "BYTES", "OLDEST", "FROM",
                                            "REASONS"])
        row = next(l for l in lines if l.startswith("deadletter/iothub/dl1 "))
        self.assertIn(f"{self.REFUSED} (3), expired (1)", row)
        self.assertIn("iothub/dl1 (4)", row)
        self.assertIn("holdfastctl replay", r.out)
        # The same from the stopped daemon's store.
        self.assertEqual(self.broker.stop(), 0)
        from_store = {q["queue"]: q for q in self.ctl_json("deadletters",
                                                           store=self.broker.store_path)}
        for q in got.values():
            q.pop("oldest_age_ms")
            from_store[q["queue"]].pop("oldest_age_ms")
        self.assertEqual(from_store, got)

    def test_none(self):
        self.ctl("purge", "deadletter/iothub/dl1", "--yes")
        self.ctl("purge", "deadletter/iothub/dl2", "--yes")
        self.assertEqual(self.ctl_json("deadletters"), [])
        self.assertIn("no dead letters in holdfastd at", self.ctl("deadletters").out)

    def test_replay_needs_confirmation(self):
        r = self.ctl("replay", "deadletter/iothub/dl1", expect=2)
        self.assertIn("--yes", r.err)
        r = self.ctl_on_terminal("replay", "deadletter/iothub/dl1", typed=b"y\n")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"Replay 4 messages", r.stderr)
        self.assertIn(b"not replayed", r.stderr)
        self.assertEqual(self.broker.depth("deadletter/iothub/dl1"), 4)
        self.assertIsNone(self.broker.queue("iothub/dl1"))
        r = self.ctl_on_terminal("replay", "deadletter/iothub/dl1", "--max", "1",
                                 typed=b"deadletter/iothub/dl1\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"replayed 1 message of 'deadletter/iothub/dl1': 1 to iothub/dl1; 3 left",
                      r.stdout)

    def test_replay_moves_oldest_first_to_the_original_queue_then_elsewhere(self):
        before = self.broker.peek_all("deadletter/iothub/dl1")
        s = self.ctl_json("replay", "deadletter/iothub/dl1", "--max", 2, "--yes")
        self.assertEqual((s["replayed"], s["remaining"], s["to"]), (2, 2, {"iothub/dl1": 2}))
        moved = self.broker.peek_all("iothub/dl1")
        self.assertEqual([sha(m["payload"]) for m in moved], [sha(d) for d in self.dl1[:2]])
        self.assertEqual([kept(m) for m in moved], [kept(m) for m in before[:2]])
        self.assertTrue(all("dead_letter" not in m for m in moved))
        rest = self.broker.peek_all("deadletter/iothub/dl1")
        self.assertEqual([m["seq"] for m in rest], [3, 4])
        s = self.ctl_json("replay", "deadletter/iothub/dl1", "--to", "iothub/elsewhere", "--yes")
        self.assertEqual((s["replayed"], s["remaining"], s["to"]),
                         (2, 0, {"iothub/elsewhere": 2}))
        self.assertEqual([sha(m["payload"]) for m in self.broker.peek_all("iothub/elsewhere")],
                         [sha(d) for d in self.dl1[2:]])
        q = self.broker.queue("deadletter/iothub/dl1")
        self.assertEqual((q["depth"], q["cursors"]), (0, {}), "no cursor is left behind")
        self.assertNotIn("deadletter/iothub/dl1",
                         [d["queue"] for d in self.ctl_json("deadletters") if d["count"] > 0])

    def test_replay_in_a_stopped_daemons_store(self):
        self.assertEqual(self.broker.stop(), 0)
        store = self.broker.store_path
        r = self.ctl("replay", "deadletter/iothub/dl2", "--yes", store=store)
        self.assertIn("replayed 1 message", r.out)
        self.broker.restart()
        [m] = self.broker.peek_all("iothub/dl2")
        self.assertEqual(m["payload"], self.dl2[0])
        self.assertEqual(self.broker.depth("deadletter/iothub/dl2"), 0)

    def test_replay_errors(self):
        r = self.ctl("replay", "deadletter/iothub/nobody", "--yes", expect=4)
        self.assertIn("no queue 'deadletter/iothub/nobody'", r.err)
        self.pub("plain", b"not a dead letter")
        r = self.ctl("replay", "iothub/plain", "--yes", expect=1)
        self.assertIn("no dead-letter record", r.err)
        # With --to it would move them, but the bridge's cursor holds that queue.
        wait_until(lambda: "bridge/hub" in self.broker.queue("iothub/plain")["cursors"],
                   EVENT_TIMEOUT, "the bridge's cursor")
        r = self.ctl("replay", "iothub/plain", "--to", "iothub/x", "--yes", expect=1)
        self.assertIn("cursor 'bridge/hub'", r.err)
        self.assertEqual(self.broker.depth("iothub/plain"), 1)
        self.assertIsNone(self.broker.queue("iothub/x"))


# ---- bridge pause|resume -----------------------------------------------------------------------


class BridgePauseTest(OpsTest):
    """Two upstreams on one holdfast-hubsim: 'hub' drains iothub/dev1, 'hub2' other/dev2."""

    def setUp(self):
        self.hubdir = tempfile.mkdtemp(prefix="holdfast-ctl-hub-")
        self.addCleanup(shutil.rmtree, self.hubdir, True)
        keys = os.path.join(self.hubdir, "devices")
        with open(keys, "w") as f:
            f.write(f"dev1 {test_bridge.KEY1}\ndev2 {test_bridge.KEY2}\n")
        self.hub = test_bridge.Hubsim(self.hubdir, keys)
        self.hub.start()
        self.addCleanup(self.hub.stop)
        upstream = lambda name: f"""
[[upstream]]
name = "{name}"
kind = "emulator"
host = "localhost"
port = {self.hub.amqp_port}
ca_file = "{self.hub.tls_dir}/ca.pem"
auth = "device-keys"
device_keys_file = "{keys}"
"""
        self.BROKER = {"extra_config": f"""
[[route]]
pattern = "devices/dev1/messages/events"
queue = "iothub/dev1"
upstream = "hub"

[[route]]
pattern = "devices/dev2/messages/events"
queue = "other/dev2"
upstream = "hub2"
""" + upstream("hub") + upstream("hub2")}
        super().setUp()

    def upstreams(self) -> dict:
        return {u["name"]: u for u in self.broker.get_json("/api/status")["upstreams"]}

    def test_pause_holds_new_transfers_and_resume_drains(self):
        self.pub("dev1", b"before")
        test_bridge.BridgeTest.wait_forwarded(self, "dev1", 1)
        r = self.ctl("bridge", "pause", "hub")
        self.assertIn("upstream hub: paused", r.out)
        self.assertIn("a restart of holdfastd", r.out)
        self.assertEqual({n: u["paused"] for n, u in self.upstreams().items()},
                         {"hub": True, "hub2": False})
        self.assertIn("hub: connected, PAUSED (holdfastctl bridge resume)", self.ctl("status").out)
        held = [payload(self.rng, i, 60) for i in range(10)]
        for data in held:
            self.pub("dev1", data)
        self.pub("dev2", b"through hub2")  # published after dev1's: the other upstream flows
        test_bridge.BridgeTest.wait_forwarded(self, "dev2", 1)
        self.assertEqual(len(self.hub.of_device("dev1")), 1, "nothing sent while paused")
        self.assertEqual(self.broker.depth("iothub/dev1"), 10, "the queue keeps its messages")
        self.assertEqual(self.broker.metric("holdfast_bridge_paused", upstream="hub"), 1)
        s = self.ctl_json("bridge", "resume")  # every upstream
        self.assertEqual(s["upstreams"], [{"name": "hub", "paused": False},
                                          {"name": "hub2", "paused": False}])
        test_bridge.BridgeTest.wait_forwarded(self, "dev1", 11)
        self.assertEqual([m["sha256"] for m in self.hub.of_device("dev1")][1:],
                         [sha(d) for d in held])
        wait_until(lambda: self.broker.depth("iothub/dev1") == 0, EVENT_TIMEOUT, "dev1 drained")

    def test_refused_messages_listed_and_replayed_to_the_hub(self):
        self.hub.faults(unauthorized_devices=["dev1"])
        sent = [payload(self.rng, i, 70) for i in range(3)]
        for data in sent:
            self.pub("dev1", data)
        wait_until(lambda: self.broker.depth("deadletter/iothub/dev1") == 3, EVENT_TIMEOUT,
                   "three dead letters from the bridge")
        [dl] = self.ctl_json("deadletters")
        self.assertEqual((dl["queue"], dl["count"], dl["original_queues"]),
                         ("deadletter/iothub/dev1", 3, {"iothub/dev1": 3}))
        self.assertEqual(dl["reasons"], {"upstream hub: amqp:unauthorized-access": 3})
        self.assertIn("upstream hub: amqp:unauthorized-access (3)", self.ctl("deadletters").out)
        self.hub.faults(unauthorized_devices=[])
        s = self.ctl_json("replay", "deadletter/iothub/dev1", "--yes")
        self.assertEqual((s["replayed"], s["remaining"]), (3, 0))
        test_bridge.BridgeTest.wait_forwarded(self, "dev1", 3)
        self.assertEqual([m["sha256"] for m in self.hub.of_device("dev1")],
                         [sha(d) for d in sent])
        self.assertEqual(self.ctl_json("deadletters"), [])

    def test_a_restart_resumes_and_unknown_upstreams_are_exit_4(self):
        self.ctl_json("bridge", "pause")
        self.assertEqual([u["paused"] for u in self.upstreams().values()], [True, True])
        r = self.ctl("bridge", "pause", "nohub", expect=4)
        self.assertIn("no upstream 'nohub'", r.err)
        self.assertIn("holdfastctl status", r.err)
        self.assertEqual(self.broker.stop(), 0)
        self.broker.restart()
        self.assertEqual([u["paused"] for u in self.upstreams().values()], [False, False])
        self.assertEqual(self.broker.stop(), 0)
        r = self.ctl("bridge", "resume", store=self.broker.store_path, expect=3)
        self.assertIn("needs it running", r.err)


# ---- devices -----------------------------------------------------------------------------------


class DevicesTest(OpsTest):

    BROKER = {"amqp": True}

    def test_one_row_per_device_with_protocol_backlog_and_last_seen(self):
        for data in (b"a1", b"a2", b"a3"):
            self.pub("dA", data)
        self.pub("dB", b"b1")
        got = self.ctl_json("devices")
        devices = {d["device_id"]: d for d in got["devices"]}
        self.assertEqual(sorted(devices), ["dA", "dB"])
        self.assertEqual([d["device_id"] for d in got["devices"]], ["dB", "dA"], "latest first")
        a = devices["dA"]
        self.assertEqual((a["protocol"], a["messages"], a["backlog"], a["queues"]),
                         ("mqtt", 3, 3, ["iothub/dA"]))
        self.assertEqual(a["token"], {"state": "none"})
        self.assertGreaterEqual(a["last_seen_age_ms"], 0)
        self.assertLessEqual(abs(a["last_seen_ms"] - time.time() * 1000), 60_000)
        r = self.ctl("devices")
        lines = r.out.splitlines()
        self.assertEqual(lines[0].split(), ["DEVICE", "PROTOCOL", "LAST", "SEEN", "MESSAGES",
                                            "BACKLOG", "QUEUES", "TOKEN"])
        row = next(l.split() for l in lines if l.startswith("dA "))
        self.assertEqual((row[1], row[-4], row[-3], row[-2], row[-1]),
                         ("mqtt", "3", "3", "iothub/dA", "none"))
        self.ctl("purge", "iothub/dA", "--yes")
        self.assertEqual({d["device_id"]: d["backlog"] for d in self.ctl_json("devices")["devices"]},
                         {"dA": 0, "dB": 1})

    def test_amqp_device(self):
        from proton import Message
        from proton.utils import BlockingConnection
        c = BlockingConnection(self.broker.amqp_url, timeout=EVENT_TIMEOUT)
        c.create_sender("devices/dC/messages/events").send(Message(body=b"amqp", inferred=True))
        c.close()
        [d] = self.ctl_json("devices")["devices"]
        self.assertEqual((d["device_id"], d["protocol"], d["backlog"]), ("dC", "amqp", 1))

    def test_token_state_valid_then_expired(self):
        expiry = int(time.time()) + 3
        c = PahoClient(self.broker.mqtt_port, "dT")
        c.client.username_pw_set(f"{HOST}/dT/{API}", token("dT", expiry=expiry))
        self.addCleanup(c.close)
        c.connect()
        c.publish_wait("devices/dT/messages/events", b"t", qos=1)
        [d] = self.ctl_json("devices")["devices"]
        self.assertEqual(d["token"]["state"], "valid")
        self.assertEqual(d["token"]["expires_at_ms"], expiry * 1000)
        self.assertIn("valid until", self.ctl("devices").out)
        wait_until(lambda: self.ctl_json("devices")["devices"][0]["token"]["state"] == "expired",
                   EVENT_TIMEOUT, "the token seen as expired")
        self.assertIn("EXPIRED", self.ctl("devices").out)

    def test_none_seen_and_daemon_needed(self):
        self.assertIn("no device has sent anything", self.ctl("devices").out)
        self.assertEqual(self.ctl_json("devices")["devices"], [])
        self.assertEqual(self.broker.stop(), 0)
        r = self.ctl("devices", store=self.broker.store_path, expect=3)
        self.assertIn("needs it running", r.err)


# ---- usage -------------------------------------------------------------------------------------


class OpsUsageTest(OpsTest):

    def test_wrong_arguments_are_exit_2_with_a_clear_message(self):
        cases = {
            ("import",): "QUEUE is required",
            ("replay",): "DLQ is required",
            ("replay", "q", "--max", "0"): "--max",
            ("replay", "q", "--to"): "--to",
            ("bridge",): "ACTION is required",
            ("bridge", "stop"): "ACTION",
            ("deadletters", "extra"): "extra",
            ("devices", "--bogus"): "--bogus",
        }
        for args, expected in cases.items():
            r = subprocess.run([base.HOLDFASTCTL, *args], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=CLIENT_TIMEOUT, env=self.env())
            err = r.stderr.decode()
            self.assertEqual(r.returncode, 2, f"{args}: {err}")
            self.assertIn(expected, err, args)
            self.assertTrue(err.startswith("holdfastctl: "), f"{args}: {err}")
            self.assertIn("--help", err, args)
            self.assertEqual(r.stdout, b"", args)
        # import from a terminal: nothing to read
        r = self.ctl_on_terminal("import", "iothub/x", typed=b"")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"stdin is a terminal", r.stderr)

    def test_help_on_every_new_command(self):
        text = subprocess.run([base.HOLDFASTCTL, "--help"], capture_output=True,
                              timeout=CLIENT_TIMEOUT).stdout.decode()
        self.assertIn("5  holdfastd is not answering, yet another process holds its store", text)
        for command in ("import", "deadletters", "replay", "bridge", "devices"):
            self.assertIn(command, text)
            r = subprocess.run([base.HOLDFASTCTL, command, "--help"], capture_output=True,
                               timeout=CLIENT_TIMEOUT)
            self.assertEqual(r.returncode, 0, command)
            self.assertIn(f"holdfastctl {command}", r.stdout.decode())
            self.assertIn("Exit status", r.stdout.decode())
        bridge = subprocess.run([base.HOLDFASTCTL, "bridge", "--help"], capture_output=True,
                                timeout=CLIENT_TIMEOUT).stdout.decode()
        self.assertIn("restarting holdfastd resumes", bridge)

    def test_endpoints_refuse_browsers(self):
        for path in ("/api/queues/iothub/x/import", "/api/queues/iothub/x/replay",
                     "/api/bridge/pause"):
            req = base.urllib.request.Request(f"{self.admin}{path}", data=b"", method="POST",
                                              headers={"Origin": "http://example.com"})
            opener = base.urllib.request.build_opener(base.urllib.request.ProxyHandler({}))
            with self.assertRaises(base.urllib.error.HTTPError) as e:
                opener.open(req, timeout=10)
            self.assertEqual(e.exception.code, 403, path)
        self.assertFalse(self.upstream_paused())

    def upstream_paused(self) -> bool:
        return self.broker.get_json("/api/status")["upstreams"][0]["paused"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holdfastd", required=True, help="path of the holdfastd binary")
    parser.add_argument("--holdfastctl", required=True, help="path of the holdfastctl binary")
    parser.add_argument("--hubsim", required=True, help="path of the holdfast-hubsim binary")
    args, rest = parser.parse_known_args()
    for binary in (args.holdfastd, args.holdfastctl, args.hubsim):
        if not os.access(binary, os.X_OK):
            parser.error(f"{binary} is not an executable")
    base.HOLDFASTD = os.path.abspath(args.holdfastd)
    base.HOLDFASTCTL = os.path.abspath(args.holdfastctl)
    test_bridge.HUBSIM = os.path.abspath(args.hubsim)
    sys.stderr.write(f"holdfastd: {base.HOLDFASTD}\nholdfastctl: {base.HOLDFASTCTL}\n"
                     f"hubsim: {test_bridge.HUBSIM}\nseed: {base.SEED}\n")
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
