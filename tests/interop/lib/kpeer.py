# Kernel-side peers of the interop tests (tcp_bulk.sh, tcp_impair.sh,
# tcp_echo.sh), one connection each:
#   kpeer.py send HOST PORT      stdin to a connection to HOST:PORT, then a
#                                FIN, then the receiver's close (10 s at most)
#   kpeer.py recv ADDR PORT OUT  accepts on ADDR:PORT, writes what arrives to
#                                OUT until EOF
#   kpeer.py echo ADDR PORT      accepts on ADDR:PORT, sends back what
#                                arrives until EOF
import socket
import sys


def send(host, port):
    s = socket.create_connection((host, port), timeout=30)
    src = sys.stdin.buffer
    while True:
        b = src.read(65536)
        if not b:
            break
        s.sendall(b)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(10)
    try:
        s.recv(1)   # the receiver closes once it has read everything
    except socket.timeout:
        pass
    s.close()


def serve_one(addr, port, sink):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((addr, port))
    l.listen(1)
    c, _ = l.accept()
    while True:
        b = c.recv(65536)
        if not b:
            break
        sink(c, b)
    c.close()


def recv(addr, port, out_path):
    with open(out_path, "wb") as out:
        serve_one(addr, port, lambda c, b: out.write(b))


def echo(addr, port):
    serve_one(addr, port, lambda c, b: c.sendall(b))


if __name__ == "__main__":
    mode, args = sys.argv[1] if len(sys.argv) > 1 else "", sys.argv[2:]
    if mode == "send" and len(args) == 2:
        send(args[0], int(args[1]))
    elif mode == "recv" and len(args) == 3:
        recv(args[0], int(args[1]), args[2])
    elif mode == "echo" and len(args) == 2:
        echo(args[0], int(args[1]))
    else:
        sys.exit("usage: kpeer.py send HOST PORT | recv ADDR PORT OUT | echo ADDR PORT")
