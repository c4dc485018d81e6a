#!/usr/bin/python3
"""Integration tests of holdfastctl against a real holdfastd and against a stopped one's store.

Every test gets its own holdfastd on free ports with a fresh store (see harness.py), publishes
with mosquitto_pub, and runs the holdfastctl binary as an operator would: each command's text
output is checked for what an operator needs, its --json output is parsed and compared with what
was published, and exit statuses are checked (0 ok, 1 failed, 2 usage, 3 daemon unreachable and
no store, 4 not found). purge's confirmation is typed on a pseudo-terminal.

Run:  /usr/bin/python3 test/integration/test_holdfastctl.py --holdfastd build/.../holdfastd \\
          --holdfastctl build/.../holdfastctl [-v] [-k NAME]
On a failure the test's directory (config, store, holdfastd.log) is kept and its path printed.
"""

import argparse
import base64
import json
import os
import pty
import queue
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    CLIENT_TIMEOUT, EVENT_TIMEOUT, LOCALHOST, SEED, Holdfastd, mosquitto_pub, payload, wait_until)

HOLDFASTD = None  # set by main()
HOLDFASTCTL = None

ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


class CtlTest(unittest.TestCase):
    """Starts a holdfastd per test; stops it (SIGTERM, exit status 0 required) at the end."""

    BROKER: dict = {}  # keyword arguments of Holdfastd

    def setUp(self):
        self.rng = random.Random(f"{SEED}/{self.id()}")
        self.workdir = tempfile.mkdtemp(prefix="holdfast-ctl-it-")
        self.broker = Holdfastd(HOLDFASTD, self.workdir, **self.BROKER)
        self.addCleanup(self._finish)
        self.broker.start()
        # Where no store is: while the daemon runs, answers must come from it.
        self.no_store = os.path.join(self.workdir, "no-store-here")

    def _finish(self):
        problem = None
        if self.broker.running:
            rc = self.broker.stop()
            if rc != 0:
                problem = f"holdfastd exited with status {rc} on SIGTERM at the end of the test"
        elif self.broker.proc is not None and not self.broker.expected_exit:
            problem = f"holdfastd died during the test (status {self.broker.proc.returncode})"
        result = getattr(getattr(self, "_outcome", None), "result", None)
        failed = problem is not None or (result is not None and any(
            t is self for t, _ in list(result.failures) + list(result.errors)))
        if failed:
            sys.stderr.write(f"\n[{self.id()}] seed {SEED}; kept {self.workdir}\n"
                             f"{self.broker.diagnostics()}\n")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if problem:
            self.fail(problem + "\n" + self.broker.diagnostics())

    # -- running holdfastctl --

    @property
    def admin(self) -> str:
        return f"http://{LOCALHOST}:{self.broker.admin_port}"

    def env(self) -> dict:
        env = dict(os.environ)
        env.pop("HOLDFAST_ADMIN", None)
        return env

    def ctl(self, *args, store=None, expect=0, stdin=subprocess.DEVNULL,
            admin=None) -> subprocess.CompletedProcess:
        """Runs holdfastctl with --admin (this test's daemon) and --store (by default a path
        where there is no store) before `args`; checks the exit status."""
        argv = [HOLDFASTCTL, "--admin", admin or self.admin, "--store", store or self.no_store]
        r = subprocess.run(argv + [str(a) for a in args], stdin=stdin, capture_output=True,
                           timeout=CLIENT_TIMEOUT, env=self.env(), cwd=self.workdir)
        r.out = r.stdout.decode(errors="replace")
        r.err = r.stderr.decode(errors="replace")
        if expect is not None:
            self.assertEqual(r.returncode, expect,
                             f"holdfastctl {' '.join(map(str, args))}: exit status\n"
                             f"stdout:\n{r.out}\nstderr:\n{r.err}")
        return r

    def ctl_json(self, *args, **kwargs):
        r = self.ctl("--json", *args, **kwargs)
        try:
            return json.loads(r.out)
        except ValueError as e:
            self.fail(f"holdfastctl --json {' '.join(map(str, args))}: not JSON ({e}):\n{r.out}")

    def ctl_on_terminal(self, *args, typed: bytes, store=None) -> subprocess.CompletedProcess:
        """Runs holdfastctl with a pseudo-terminal as stdin, on which `typed` is typed."""
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen([HOLDFASTCTL, "--admin", self.admin, "--store",
                                  store or self.no_store] + list(args), stdin=slave, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=self.env())
            os.close(slave)
            slave = None
            os.write(master, typed)
            out, err = p.communicate(timeout=CLIENT_TIMEOUT)
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)

    # -- publishing --

    def pub(self, device: str, data: bytes, bag: str = "") -> None:
        topic = f"devices/{device}/messages/events" + (f"/{bag}" if bag else "")
        mosquitto_pub(self.broker.mqtt_port, topic, data, 1)

    def publish_some(self) -> dict:
        """Three binary messages to iothub/dev1, one text message to iothub/dev2, one retained
        message (which makes the internal queue $mqtt/retained). Returns the payloads."""
        sent = {"iothub/dev1": [payload(self.rng, i, 40 + 10 * i) for i in range(3)],
                "iothub/dev2": [b"temperature=21.5 humidity=40" * 4]}
        for data in sent["iothub/dev1"]:
            self.pub("dev1", data)
        self.pub("dev2", sent["iothub/dev2"][0])
        mosquitto_pub(self.broker.mqtt_port, "config/lamp", b"on", 1, retain=True)
        return sent


# ---- status ------------------------------------------------------------------------------------


class StatusTest(CtlTest):

    def test_status_of_a_running_daemon(self):
        self.publish_some()
        r = self.ctl("status")
        self.assertIn("ready", r.out)
        self.assertIn(f"mqtt on {LOCALHOST}:{self.broker.mqtt_port}: 0 connections", r.out)
        self.assertRegex(r.out, r"3 queues, 5 messages, [\d.]+ (B|KiB)")
        self.assertIn("hub: NOT CONNECTED (retrying), 0 messages forwarded", r.out)
        s = self.ctl_json("status")
        self.assertEqual([(u["name"], u["connected"]) for u in s["upstreams"]], [("hub", False)])
        self.assertTrue(s["daemon_running"])
        self.assertTrue(s["ready"])
        self.assertGreaterEqual(s["uptime_seconds"], 0)
        self.assertEqual([(l["protocol"], l["port"], l["connections"]) for l in s["listeners"]],
                         [("mqtt", self.broker.mqtt_port, 0)])
        self.assertEqual((s["store"]["queues"], s["store"]["messages"]), (3, 5))
        self.assertEqual(s["store"]["bytes"],
                         sum(q["bytes"] for q in self.broker.queues()))
        free = shutil.disk_usage(self.broker.store_path).free
        self.assertLess(abs(s["store"]["free_bytes"] - free), 256 << 20, "free disk space")
        self.assertIn("free on its disk", r.out)

    def test_admin_from_the_environment(self):
        env = self.env()
        env["HOLDFAST_ADMIN"] = self.admin
        r = subprocess.run([HOLDFASTCTL, "--json", "status", "--store", self.no_store],
                           capture_output=True, timeout=CLIENT_TIMEOUT, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(json.loads(r.stdout)["daemon_running"])


# ---- queues ------------------------------------------------------------------------------------


class QueuesTest(CtlTest):

    def test_table_hides_internal_queues_unless_all(self):
        self.publish_some()
        r = self.ctl("queues")
        lines = r.out.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "DEPTH", "BYTES", "OLDEST", "APPENDED",
                                            "REMOVED", "DROPPED", "EXPIRED", "CURSORS"])
        rows = {line.split()[0]: line.split() for line in lines[1:] if line.startswith("iothub/")}
        self.assertEqual(sorted(rows), ["iothub/dev1", "iothub/dev2"])
        self.assertEqual(rows["iothub/dev1"][1], "3", r.out)  # depth
        self.assertRegex(" ".join(rows["iothub/dev1"][2:4]), r"^\d+ B$")  # bytes, human
        self.assertNotIn("$mqtt/retained", r.out)
        self.assertIn("1 internal '$' queue", r.out)
        self.assertIn("--all", r.out)
        self.assertIn("$mqtt/retained", self.ctl("queues", "--all").out)

    def test_json_matches_the_admin_api_and_sorts(self):
        self.publish_some()
        # The bridge opens its cursor on each device queue asynchronously: let it, so the two
        # snapshots compared below are of the same state.
        wait_until(lambda: all("bridge/hub" in q["cursors"] for q in self.broker.queues()
                               if q["name"].startswith("iothub/")), EVENT_TIMEOUT,
                   "the bridge's cursors")
        api = {q["name"]: q for q in self.broker.queues()}
        got = self.ctl_json("queues", "--all")
        self.assertEqual(sorted(q["name"] for q in got), sorted(api))
        for q in got:
            for key in ("depth", "bytes", "appended", "removed", "dropped", "expired", "head",
                        "next", "cursors"):
                self.assertEqual(q[key], api[q["name"]][key], f"{q['name']}: {key}")
            self.assertGreater(q["oldest_age_ms"], 0)
        names = lambda *args: [q["name"] for q in self.ctl_json("queues", *args)]
        self.assertEqual(names(), ["iothub/dev1", "iothub/dev2"])  # by name, '$' hidden
        self.assertEqual(names("--sort", "depth"), ["iothub/dev1", "iothub/dev2"])
        by_bytes = sorted(["iothub/dev1", "iothub/dev2"], key=lambda n: -api[n]["bytes"])
        self.assertEqual(names("--sort", "bytes"), by_bytes)
        self.assertEqual(names("--sort", "age"), ["iothub/dev1", "iothub/dev2"])  # oldest first
        self.assertEqual(names("--sort", "name", "--all")[0], "$mqtt/retained")

    def watch(self, *args) -> subprocess.Popen:
        """holdfastctl queues --watch 0.2, stopped and reaped at the end of the test."""
        p = subprocess.Popen([HOLDFASTCTL, "--admin", self.admin, "--store", self.no_store,
                              "queues", "--watch", "0.2", *args], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.env())

        def reap():
            if p.poll() is None:
                p.kill()
            p.wait(timeout=EVENT_TIMEOUT)
            p.stdout.close()

        self.addCleanup(reap)
        return p

    def test_watch_refreshes_until_interrupted(self):
        self.pub("w1", b"one")
        p = self.watch("--json")  # a global option after the command
        frames = queue.Queue()
        reader = threading.Thread(target=lambda: [frames.put(json.loads(l)) for l in p.stdout],
                                  daemon=True)
        reader.start()

        def depth_seen(want):
            while True:
                frame = frames.get(timeout=EVENT_TIMEOUT)  # raises queue.Empty on a hang
                if {q["name"]: q["depth"] for q in frame}.get("iothub/w1") == want:
                    return

        depth_seen(1)
        self.pub("w1", b"two")
        depth_seen(2)  # a later frame shows the new message: it refreshes
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(timeout=EVENT_TIMEOUT), 0, "exit status after Ctrl-C")

    def test_watch_shows_rates_from_the_second_frame(self):
        self.pub("w3", b"first")
        p = self.watch("--json")
        frames = queue.Queue()
        threading.Thread(target=lambda: [frames.put(json.loads(l)) for l in p.stdout],
                         daemon=True).start()
        first = {q["name"]: q for q in frames.get(timeout=EVENT_TIMEOUT)}
        self.assertNotIn("in_per_s", first["iothub/w3"], "no rate before a second sample")
        second = {q["name"]: q for q in frames.get(timeout=EVENT_TIMEOUT)}
        self.assertIn("in_per_s", second["iothub/w3"])
        self.pub("w3", b"second")
        while True:  # the frame after the publish counts it
            frame = {q["name"]: q for q in frames.get(timeout=EVENT_TIMEOUT)}
            if frame["iothub/w3"]["appended"] == 2:
                break
        self.assertGreater(frame["iothub/w3"]["in_per_s"], 0)
        self.assertEqual(frame["iothub/w3"]["out_per_s"], 0)

    def test_rate_measures_before_printing(self):
        self.publish_some()
        got = self.ctl_json("queues", "--rate", "0.2")
        self.assertTrue(got)
        for q in got:  # nothing publishes, the bridge is not connected: no traffic
            self.assertEqual((q["in_per_s"], q["out_per_s"]), (0, 0), q["name"])
        self.assertRegex(self.ctl("queues", "--rate", "0.2").out, r"IN/S +OUT/S")
        self.assertNotIn("IN/S", self.ctl("queues").out)

    def test_text_watch_frames(self):
        self.pub("w2", b"x")
        p = self.watch()
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l.decode()) for l in p.stdout],
                         daemon=True).start()
        headers = 0
        while headers < 2:
            line = lines.get(timeout=EVENT_TIMEOUT)
            if line.startswith("every 0.2s, Ctrl-C to stop"):
                headers += 1
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(timeout=EVENT_TIMEOUT), 0)


# ---- peek --------------------------------------------------------------------------------------


def xtea_ecb_encrypt(data: bytes, key: bytes) -> bytes:
    """XTEA written here from the 1997 description (big-endian words), independent of
    tools/tea, so that holdfastctl's decryption is checked against another implementation."""
    k = struct.unpack(">4I", key)
    mask, delta, out = 0xFFFFFFFF, 0x9E3779B9, b""
    for at in range(0, len(data), 8):
        v0, v1 = struct.unpack(">2I", data[at:at + 8])
        total = 0
        for _ in range(32):
            v0 = (v0 + ((((v1 << 4) ^ (v1 >> 5)) + v1) ^ (total + k[total & 3]))) & mask
            total = (total + delta) & mask
            v1 = (v1 + ((((v0 << 4) ^ (v0 >> 5)) + v0) ^ (total + k[(total >> 11) & 3]))) & mask
        out += struct.pack(">2I", v0, v1)
    return out


class PeekTest(CtlTest):

    def test_binary_payload_as_hex_dump_by_default(self):
        data = b"\x00\x01\x02binary\xff\xfe" + bytes(range(20))
        self.pub("bin", data)
        r = self.ctl("peek", "iothub/bin")
        self.assertIn("#1  ", r.out)
        self.assertRegex(r.out, ISO_TIME)
        self.assertIn("devices/bin/messages/events", r.out)
        self.assertIn("origin      mqtt", r.out)
        self.assertIn("device bin", r.out)
        self.assertIn(f"{len(data)} bytes, hex", r.out)
        self.assertIn("00000000  00 01 02 62 69 6e 61 72  79 ff fe 00 01 02 03 04  "
                      "|...binary.......|", r.out)
        r = self.ctl("peek", "iothub/bin", "--format", "base64")
        self.assertIn(base64.b64encode(data).decode(), r.out)
        r = self.ctl("peek", "iothub/bin", "--format", "text")
        self.assertIn("\\x00\\x01\\x02binary\\xff\\xfe", r.out)  # escaped, not raw

    def test_text_payload_properties_and_json(self):
        self.pub("txt", b"hello holdfast", bag="%24.mid=m-1&%24.ct=text%2Fplain&site=plant-7")
        r = self.ctl("peek", "iothub/txt")
        self.assertIn("14 bytes, text", r.out)
        self.assertIn("    hello holdfast", r.out)
        self.assertIn("message_id=m-1", r.out)
        self.assertIn("content_type=text/plain", r.out)
        self.assertIn("site:plant-7", r.out)
        j = self.ctl_json("peek", "iothub/txt")
        self.assertEqual(j["queue"], "iothub/txt")
        [m] = j["messages"]
        self.assertEqual(base64.b64decode(m["payload_base64"]), b"hello holdfast")
        self.assertEqual(m["seq"], 1)
        self.assertEqual(m["properties"]["message_id"], "m-1")
        self.assertEqual(m["properties"]["user"], [["site", "plant-7"]])
        self.assertEqual(m["origin"]["device_id"], "txt")
        self.assertEqual(m["address"], "devices/txt/messages/events/%24.mid=m-1&%24.ct=text%2F"
                                       "plain&site=plant-7")

    def test_from_and_max(self):
        sent = [payload(self.rng, i, 30) for i in range(5)]
        for data in sent:
            self.pub("many", data)
        j = self.ctl_json("peek", "iothub/many", "--from", 2, "--max", 2)
        self.assertEqual([m["seq"] for m in j["messages"]], [2, 3])
        self.assertEqual([base64.b64decode(m["payload_base64"]) for m in j["messages"]],
                         sent[1:3])
        self.assertEqual(j["next"], 4)
        r = self.ctl("peek", "iothub/many", "--max", 2)
        self.assertIn("holdfastctl peek 'iothub/many' --from 3", r.out)
        self.assertEqual(self.broker.depth("iothub/many"), 5, "peek must not consume")

    def test_tea_key_shows_the_payload_decrypted_for_display_only(self):
        key = bytes.fromhex("0123456712345678234567893456789a")
        plain = b"temp=21.5;seq=7\x00"  # 16 bytes: two blocks
        cipher = xtea_ecb_encrypt(plain, key)
        self.pub("tea", cipher)
        r = self.ctl("peek", "iothub/tea", "--tea-key", key.hex())
        self.assertIn("decrypted   16 bytes (display only)", r.out)
        self.assertIn("temp=21.5;seq=7", r.out)
        stored = self.ctl_json("peek", "iothub/tea")["messages"][0]
        self.assertEqual(base64.b64decode(stored["payload_base64"]), cipher, "stored as sent")
        r = self.ctl("peek", "iothub/tea", "--tea-key", "0123", expect=2)
        self.assertIn("32 hex digits", r.err)

    def test_unknown_queue_is_exit_4(self):
        r = self.ctl("peek", "iothub/nobody", expect=4)
        self.assertIn("no queue 'iothub/nobody'", r.err)
        self.assertIn("holdfastctl queues --all", r.err)
        self.assertEqual(r.out, "")


# ---- export ------------------------------------------------------------------------------------


class ExportTest(CtlTest):

    def test_export_to_file_and_stdout(self):
        sent = [payload(self.rng, i, self.rng.randrange(1, 3000)) for i in range(40)]
        for data in sent:
            self.pub("exp", data, bag="k=v")
        out = os.path.join(self.workdir, "exp.jsonl")
        summary = self.ctl_json("export", "iothub/exp", "--out", out)
        self.assertEqual((summary["queue"], summary["exported"], summary["out"]),
                         ("iothub/exp", 40, out))
        self.assertFalse(os.path.exists(out + ".partial"))
        with open(out) as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual([base64.b64decode(m["payload_base64"]) for m in lines], sent)
        self.assertEqual([m["seq"] for m in lines], list(range(1, 41)))
        for m in lines:
            self.assertEqual(m["queue"], "iothub/exp")
            self.assertEqual(m["address"], "devices/exp/messages/events/k=v")
            self.assertEqual(m["properties"]["user"], [["k", "v"]])
            self.assertEqual(m["origin"]["protocol"], "mqtt")
            self.assertGreater(m["received_at_ms"], 0)
        r = self.ctl("export", "iothub/exp")
        self.assertEqual([json.loads(line) for line in r.out.splitlines()], lines)
        self.assertIn("exported 40 messages of iothub/exp", r.err)
        self.assertEqual(self.broker.depth("iothub/exp"), 40, "export must not consume")

    def test_export_of_unknown_queue_is_exit_4_and_writes_nothing(self):
        out = os.path.join(self.workdir, "none.jsonl")
        self.ctl("export", "iothub/none", "--out", out, expect=4)
        self.assertFalse(os.path.exists(out))
        self.assertFalse(os.path.exists(out + ".partial"))


# ---- purge -------------------------------------------------------------------------------------


class PurgeTest(CtlTest):

    def setUp(self):
        super().setUp()
        for i in range(3):
            self.pub("victim", payload(self.rng, i, 50))

    def test_refused_without_terminal_and_without_yes(self):
        r = self.ctl("purge", "iothub/victim", expect=2)
        self.assertIn("--yes", r.err)
        self.assertEqual(self.broker.depth("iothub/victim"), 3)

    def test_confirmation_must_be_the_queue_name(self):
        r = self.ctl_on_terminal("purge", "iothub/victim", typed=b"yes\n")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"Type the queue name to confirm", r.stderr)
        self.assertIn(b"3 messages", r.stderr)
        self.assertIn(b"not purged", r.stderr)
        self.assertEqual(self.broker.depth("iothub/victim"), 3)
        r = self.ctl_on_terminal("purge", "iothub/victim", typed=b"iothub/victim\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"purged 3 messages from queue 'iothub/victim'", r.stdout)
        self.assertEqual(self.broker.depth("iothub/victim"), 0)
        q = self.broker.queue("iothub/victim")
        self.assertEqual((q["appended"], q["removed"]), (3, 3))

    def test_yes_and_json(self):
        self.assertEqual(self.ctl_json("purge", "iothub/victim", "--yes"),
                         {"queue": "iothub/victim", "purged": 3})
        self.assertEqual(self.broker.depth("iothub/victim"), 0)
        self.pub("victim", b"after")  # the queue lives on
        self.assertEqual(self.broker.depth("iothub/victim"), 1)

    def test_unknown_queue_is_exit_4(self):
        r = self.ctl("purge", "iothub/nobody", "--yes", expect=4)
        self.assertIn("no queue 'iothub/nobody'", r.err)

    def test_endpoint_refuses_browsers(self):
        url = f"{self.admin}/api/queues/iothub/victim/purge"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(url, data=b"", method="POST",
                                         headers={"Origin": "http://example.com"})
        with self.assertRaises(urllib.error.HTTPError) as e:
            opener.open(request, timeout=10)
        self.assertEqual(e.exception.code, 403)
        self.assertEqual(self.broker.depth("iothub/victim"), 3)


# ---- a stopped daemon's store ------------------------------------------------------------------


class StoppedDaemonTest(CtlTest):

    def test_everything_readable_from_the_store(self):
        sent = self.publish_some()
        api_queues = self.broker.queues()
        self.assertEqual(self.broker.stop(), 0)
        store = self.broker.store_path
        r = self.ctl("status", store=store)
        self.assertIn("daemon not running", r.out)
        self.assertIn("3 queues, 5 messages", r.out)
        s = self.ctl_json("status", store=store)
        self.assertFalse(s["daemon_running"])
        self.assertEqual((s["store"]["queues"], s["store"]["messages"], s["store"]["path"]),
                         (3, 5, store))
        self.assertGreater(s["store"]["free_bytes"], 0)
        got = {q["name"]: q for q in self.ctl_json("queues", "--all", store=store)}
        for q in api_queues:
            for key in ("depth", "bytes", "appended", "head", "next"):
                self.assertEqual(got[q["name"]][key], q[key], f"{q['name']}: {key}")
        self.assertIn("iothub/dev1", self.ctl("queues", store=store).out)
        j = self.ctl_json("peek", "iothub/dev1", store=store)
        self.assertEqual([base64.b64decode(m["payload_base64"]) for m in j["messages"]],
                         sent["iothub/dev1"])
        self.assertIn("in the store at", self.ctl("peek", "iothub/dev2", store=store).out)
        r = self.ctl("export", "iothub/dev2", store=store)
        self.assertEqual([base64.b64decode(json.loads(l)["payload_base64"])
                          for l in r.out.splitlines()], sent["iothub/dev2"])
        self.ctl("peek", "iothub/nobody", store=store, expect=4)
        r = self.ctl("purge", "iothub/dev1", "--yes", store=store, expect=3)
        self.assertIn("needs it running", r.err)
        # Nothing was changed: the daemon restarts on the same store with everything in it.
        self.broker.restart()
        self.assertEqual({q["name"]: q["depth"] for q in self.broker.queues()},
                         {q["name"]: q["depth"] for q in api_queues})

    def test_no_daemon_and_no_store_is_exit_3_with_what_to_do(self):
        self.assertEqual(self.broker.stop(), 0)
        for command in (["status"], ["queues"], ["peek", "iothub/x"], ["export", "iothub/x"]):
            r = self.ctl(*command, expect=3)
            self.assertIn(f"holdfastd is not answering on {self.admin}", r.err, command)
            self.assertIn("tools/run.sh", r.err)
            self.assertIn("--store PATH", r.err)
            self.assertEqual(r.out, "")

    def test_something_else_on_the_admin_port_is_not_mistaken_for_holdfastd(self):
        # The MQTT port answers, but not HTTP: an error (1), not a silent fallback to a store.
        r = self.ctl("status", admin=f"http://{LOCALHOST}:{self.broker.mqtt_port}",
                     store=self.broker.store_path, expect=1)
        self.assertIn("--admin", r.err)


# ---- usage -------------------------------------------------------------------------------------


class UsageTest(CtlTest):

    def test_wrong_arguments_are_exit_2_with_a_clear_message(self):
        cases = {
            (): "which command",
            ("frobnicate",): "unknown command 'frobnicate'",
            ("queues", "--sort", "size"): "--sort",
            ("queues", "--watch", "0"): "seconds above 0",
            ("queues", "--bogus"): "--bogus",
            ("peek",): "QUEUE is required",
            ("peek", "q", "--max", "0"): "--max",
            ("peek", "q", "--from", "x"): "--from",
            ("peek", "q", "--format", "ebcdic"): "--format",
            ("export",): "QUEUE is required",
            ("purge",): "QUEUE is required",
            ("--admin", "https://localhost:8088", "status"): "plain HTTP",
            ("--admin", "localhost", "status"): "no port",
        }
        for args, expected in cases.items():
            r = subprocess.run([HOLDFASTCTL, *args], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=CLIENT_TIMEOUT, env=self.env())
            err = r.stderr.decode()
            self.assertEqual(r.returncode, 2, f"{args}: {err}")
            self.assertIn(expected, err, args)
            self.assertTrue(err.startswith("holdfastctl: "), f"{args}: {err}")
            self.assertIn("--help" if args[:1] != ("--admin",) else "http://", err, args)
            self.assertEqual(r.stdout, b"", args)

    def test_help_on_every_command(self):
        r = subprocess.run([HOLDFASTCTL, "--help"], capture_output=True, timeout=CLIENT_TIMEOUT)
        self.assertEqual(r.returncode, 0)
        text = r.stdout.decode()
        for line in ("0  ok", "1  the operation failed", "2  bad usage",
                     "3  holdfastd is not answering", "4  not found"):
            self.assertIn(line, text)
        for command in ("status", "queues", "peek", "purge", "export"):
            self.assertIn(command, text)
            r = subprocess.run([HOLDFASTCTL, command, "--help"], capture_output=True,
                               timeout=CLIENT_TIMEOUT)
            self.assertEqual(r.returncode, 0, command)
            self.assertIn(f"holdfastctl {command}", r.stdout.decode())
            self.assertIn("Exit status", r.stdout.decode())


def main():
    global HOLDFASTD, HOLDFASTCTL
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holdfastd", required=True, help="path of the holdfastd binary")
    parser.add_argument("--holdfastctl", required=True, help="path of the holdfastctl binary")
    args, rest = parser.parse_known_args()
    HOLDFASTD = os.path.abspath(args.holdfastd)
    HOLDFASTCTL = os.path.abspath(args.holdfastctl)
    for binary in (HOLDFASTD, HOLDFASTCTL):
        if not os.access(binary, os.X_OK):
            parser.error(f"{binary} is not an executable")
    sys.stderr.write(f"holdfastd: {HOLDFASTD}\nholdfastctl: {HOLDFASTCTL}\n"
                     f"seed: {SEED} (HOLDFAST_IT_SEED={SEED} replays it)\n")
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
