#!/usr/bin/env python3
"""The kernel's floor for the hub's fan-out on this machine: what one small write to each of N
loopback TCP sockets costs the writing process, with a reader process draining them with epoll
(as the load generator does), no HTTP, no runtime, no scheduler.

    python3 loadgen/floor.py 10000 [rounds] [port] [kernel|reader]   # rounds 1 s apart; port 0: any free one

Prints the writer's system CPU per write (the kernel's part: `sendmsg` and, on loopback, the
receiving socket's TCP input and the reader's wake-up, all charged to the writer) and its user
CPU per write (Python's overhead, not part of the floor). Compare the first with the server's
"server CPU / event" divided by the number of streams (`loadgen/bench.sh N`).

The last argument says who sends the reader's TCP ACKs, as loadgen's `--acks` does: `kernel`
(the default) Linux's choice, which charges them to the writer, or `reader` right after each read.
"""

import os
import resource
import selectors
import socket
import sys
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
PORT = int(sys.argv[3]) if len(sys.argv) > 3 else 3390
ACKS = sys.argv[4] if len(sys.argv) > 4 else "kernel"
# Seconds between rounds, as the benchmark's events. Linux ACKs a segment at once, inside the
# writer's `send`, only after an idle spell longer than the receiver's retransmission timeout
# (200 ms at least; before 0.13 the rounds were 50 ms apart, so from the 17th round on the
# writer did not pay for the ACKs the load generator's server does).
GAP = 1.0
if ACKS not in ("reader", "kernel"):
    sys.exit(f"floor.py: who sends the ACKs must be kernel or reader, not {ACKS!r}")
# The size of a device event frame as an HTTP/1.1 chunk, about.
FRAME = b"6e\r\n" + b"id: 1001\nevent: device-online\ndata: " + b"x" * 60 + b"\n\n" + b"\r\n"

resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)

listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", PORT))
PORT = listener.getsockname()[1]
listener.listen(4096)
ready_r, ready_w = os.pipe()
go_r, go_w = os.pipe()

pid = os.fork()
if pid == 0:
    # The reader: N connections, drained with epoll until every one saw every round.
    listener.close()
    sel = selectors.EpollSelector()
    conns = []
    for _ in range(N):
        c = socket.create_connection(("127.0.0.1", PORT))
        c.setblocking(False)
        if ACKS == "reader":
            # Delayed-ACK mode: the ACK waits for the read below instead of going out at once
            # from the socket's input, inside the writer's `send`.
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
        sel.register(c, selectors.EVENT_READ)
        conns.append(c)
    os.write(ready_w, b"x")
    want = len(FRAME) * ROUNDS * N
    got = 0
    while got < want:
        for key, _ in sel.select():
            try:
                data = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            got += len(data)
            if ACKS == "reader":
                # Sends the ACK owed for what was read, then back to delayed-ACK mode.
                key.fileobj.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                key.fileobj.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
    os._exit(0)

# The reader holds the other end of `ready`: if it fails (out of ports, say), the read below
# ends instead of waiting forever, and so does an accept that waits a minute.
os.close(ready_w)
listener.settimeout(60)
accepted = []
for _ in range(N):
    s, _ = listener.accept()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    accepted.append(s)
if os.read(ready_r, 1) != b"x":
    sys.exit("floor.py: the reader did not connect its streams")
time.sleep(0.5)

before = resource.getrusage(resource.RUSAGE_SELF)
wall = time.perf_counter()
for r in range(ROUNDS):
    for s in accepted:
        s.send(FRAME)
    time.sleep(GAP)
wall = time.perf_counter() - wall - GAP * ROUNDS
after = resource.getrusage(resource.RUSAGE_SELF)
os.waitpid(pid, 0)
writes = N * ROUNDS
print(f"streams                {N}")
print(f"acks                   {ACKS}")
print(f"writes                 {writes} ({ROUNDS} rounds of {len(FRAME)} B)")
print(f"writer sys CPU / write {(after.ru_stime - before.ru_stime) / writes * 1e6:.2f} us")
print(f"writer usr CPU / write {(after.ru_utime - before.ru_utime) / writes * 1e6:.2f} us")
print(f"writer wall / round    {wall / ROUNDS * 1e3:.1f} ms")
