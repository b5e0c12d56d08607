# The kernel side of tests/interop/exit_*.sh: accept one connection and read
# it to the end. Once PAUSE_AT bytes are in, stop reading until the file GO
# exists (at most 60 s): with a small SO_RCVBUF the sender's window closes,
# so what it wrote after that is still queued in the sender when it exits.
# Prints "ready" once listening, "paused N" at the pause, and at the end how
# the stream ended (eof, reset, or timeout after IDLE s of silence), the
# bytes received and their SHA-256. With "shut", the reader shuts down its
# own sending side at once (a FIN to the writer, which nc waits for before
# it exits).
#   exit_recv.py PORT OUT PAUSE_AT GO IDLE [shut]
import hashlib
import os
import socket
import sys
import time

port, out, pause_at, go, idle = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                 sys.argv[4], float(sys.argv[5]))
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)  # inherited by the accepted socket
l.bind(("0.0.0.0", port))
l.listen(1)
print("ready", flush=True)
c, _ = l.accept()
if len(sys.argv) > 6 and sys.argv[6] == "shut":
    c.shutdown(socket.SHUT_WR)
c.settimeout(idle)
h = hashlib.sha256()
n = 0
how = "eof"
with open(out, "wb") as f:
    while True:
        if n == pause_at:
            print("paused", n, flush=True)
            for _ in range(1200):
                if os.path.exists(go):
                    break
                time.sleep(0.05)
        want = 1 << 16 if n >= pause_at else min(1 << 16, pause_at - n)
        try:
            b = c.recv(want)
        except ConnectionResetError:
            how = "reset"
            break
        except socket.timeout:
            how = "timeout"
            break
        if not b:
            break
        f.write(b)
        n += len(b)
        h.update(b)
print(how, n, h.hexdigest(), flush=True)
