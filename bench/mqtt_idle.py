#!/usr/bin/python3
"""Memory of an MQTT broker holding idle connections (used by bench/mqtt.sh).

Opens COUNT TCP connections to 127.0.0.1:PORT, sends each a minimal MQTT 3.1.1 CONNECT (clean
session, keep-alive 0, client id PREFIX-N) and waits for every CONNACK. Then waits --settle
seconds, checks that the broker kept every connection open, and prints one line of key=value:

    connections=1000 alive=1000 rss_kb=23456 hwm_kb=24000 connect_s=0.41

rss_kb/hwm_kb are VmRSS/VmHWM of --pid from /proc/PID/status. Finally sends DISCONNECT on every
connection and closes them. Standard library only; exit status 1 if a connection failed.
"""
import argparse
import resource
import select
import socket
import sys
import time


def remaining_length(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(client_id):
    cid = client_id.encode()
    # Protocol name "MQTT", level 4 (3.1.1), flags: clean session, keep-alive 0.
    variable = b"\x00\x04MQTT\x04\x02\x00\x00"
    payload = len(cid).to_bytes(2, "big") + cid
    return b"\x10" + remaining_length(len(variable) + len(payload)) + variable + payload


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed by the broker")
        data += chunk
    return data


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True, help="broker process to measure")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--prefix", default="hfidle")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds before measuring")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.count + 64
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY
                                                    else min(want, hard), hard))

    socks = []
    started = time.monotonic()
    try:
        for i in range(args.count):
            s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(connect_packet(f"{args.prefix}-{i}"))
            ack = recv_exactly(s, 4)
            if ack[0] != 0x20 or ack[3] != 0:
                raise ConnectionError(f"CONNACK refused: {ack.hex()}")
            socks.append(s)
    except (OSError, ConnectionError) as e:
        print(f"mqtt_idle.py: connection {len(socks)}: {e}", file=sys.stderr)
        for s in socks:
            s.close()
        return 1
    connect_s = time.monotonic() - started
    time.sleep(args.settle)

    # A connection the broker closed (or wrote to) is readable; an idle open one is not.
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN)
    alive = len(socks) - len(poller.poll(0))
    rss = status_kb(args.pid, "VmRSS")
    hwm = status_kb(args.pid, "VmHWM")
    print(f"connections={len(socks)} alive={alive} rss_kb={rss} hwm_kb={hwm} "
          f"connect_s={connect_s:.2f}", flush=True)
    for s in socks:
        try:
            s.sendall(b"\xe0\x00")  # DISCONNECT
        except OSError:
            pass
        s.close()
    return 0 if alive == len(socks) else 1


if __name__ == "__main__":
    sys.exit(main())
