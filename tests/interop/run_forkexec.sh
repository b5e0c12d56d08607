#!/usr/bin/env bash
# fork and exec under the preload library, as the README documents them:
# a forked child that uses only kernel fds works; a forked child that uses
# an inherited ustack socket gets EBADF and a one-line message; so does a
# program exec'd with an inherited ustack socket; the parent's socket works
# on. A program the library cannot carry (a second stack on a TAP that
# already has one) fails with a message saying why. Placeholder fds are
# small (below FD_SETSIZE).
. "$(dirname "$0")/lib/common.sh"
ns_setup runfork
. "$(dirname "$0")/lib/run.sh"
PY=/usr/bin/python3

cat >"$WORK/recv.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(20)
print("ready", flush=True)
print(s.recvfrom(100)[0].decode(), flush=True)
PY
cat >"$WORK/fork.py" <<'PY'
import errno, os, socket, subprocess, sys
host = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9100))
fd = s.fileno()
assert 3 <= fd < 1024, fd
print("placeholder fd", fd, flush=True)

# fork: the child's kernel fds work, its copy of the ustack socket does not.
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(w, b"child wrote to a pipe")
    try:
        s.sendto(b"from the child", (host, 9101))
        os._exit(3)
    except OSError as e:
        os._exit(0 if e.errno == errno.EBADF else 4)
_, st = os.waitpid(pid, 0)
print("fork child:", os.read(r, 100).decode(), "| exit", os.waitstatus_to_exitcode(st), flush=True)
assert os.waitstatus_to_exitcode(st) == 0

# exec: an inherited placeholder answers EBADF in the new program.
code = ("import os, sys, errno\n"
        "try:\n    os.write(int(sys.argv[1]), b'x'); sys.exit(3)\n"
        "except OSError as e:\n    sys.exit(0 if e.errno == errno.EBADF else 4)\n")
rc = subprocess.run([sys.executable, "-c", code, str(fd)], pass_fds=(fd,)).returncode
print("exec child exit", rc, flush=True)
assert rc == 0

# exec: a program that opens its own AF_INET socket cannot have a second
# stack on the same TAP; it fails with a reason.
code2 = ("import socket, errno, sys\n"
         "try:\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM); sys.exit(3)\n"
         "except OSError as e:\n    sys.exit(0 if e.errno == errno.EADDRINUSE else 4)\n")
rc = subprocess.run([sys.executable, "-c", code2]).returncode
print("second stack exit", rc, flush=True)
assert rc == 0

# dup: the copy names the same socket, which lives until the last copy
# closes; dup2 over a placeholder lets go of what it named.
d = os.dup(fd)
assert d != fd and d < 1024
s2 = socket.socket(fileno=os.dup(fd))
r2, w2 = os.pipe()
os.dup2(r2, d)                      # d now names the pipe, not the socket
os.write(w2, b"p")
assert os.read(d, 1) == b"p"
os.close(d)
s.close()                           # s2's copy keeps the socket open
assert s2.getsockname()[1] == 9100, s2.getsockname()
print("dup/dup2 ok", flush=True)

s2.sendto(b"parent socket works after fork and exec", (host, 9101))
print("done", flush=True)
PY

in_kernel_bg receiver "$PY" "$WORK/recv.py" 9101
RCV=$LAST_PID
wait_for "kernel receiver" 50 grep -q ready "$WORK/receiver.log"
in_ns timeout 30 "$USTACK" run -- "$PY" "$WORK/fork.py" "$HOST_IP" >"$WORK/fork.log" 2>&1 ||
	fail "fork/exec script failed: $(cat "$WORK/fork.log")"
cat "$WORK/fork.log" | sed 's/^/    /'
wait_exit "$RCV" 10
grep -q "parent socket works after fork and exec" "$WORK/receiver.log" || fail "the parent's datagram did not arrive"
grep -q "ustack: sendto(.*): fd .* was a ustack socket of the parent process; ustack sockets do not survive fork (EBADF)" "$WORK/fork.log" ||
	fail "no message for the forked child's use of the socket"
pass "fork: the child's pipe works, its inherited ustack socket fails with EBADF and a message"
grep -q "ustack: write(.*): fd .* was a ustack socket of the program that exec'd this one; ustack sockets do not survive exec (EBADF)" "$WORK/fork.log" ||
	fail "no message for the exec'd program's use of the socket"
pass "exec: an inherited ustack socket fails with EBADF and a message"
grep -q "ustack cannot carry this socket" "$WORK/fork.log" || fail "no reason given for the second stack"
pass "a second stack on the same TAP is refused with a reason: $(grep -m1 'already runs' "$WORK/fork.log")"
grep -q "dup/dup2 ok" "$WORK/fork.log" || fail "dup/dup2"
pass "the parent's socket works after fork and exec, through a dup of it (dup2 over a placeholder lets go of it)"
echo "4 passed, 0 failed"
