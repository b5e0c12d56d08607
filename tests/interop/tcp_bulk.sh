#!/usr/bin/env bash
# 100 MB each way between ustack and the kernel over the TAP, SHA-256 of
# what was sent compared with what arrived: a kernel client (python) to a
# ustack server, then a ustack client to a kernel server (python).
# BULK_BYTES overrides the size.
. "$(dirname "$0")/lib/common.sh"

BYTES=${BULK_BYTES:-100000000}
LIMIT=120   # seconds per direction

ns_setup bulk
want=$("$BUILD/tests/tcp_bulk" gen "$BYTES" | sha256sum | cut -d' ' -f1)

bulk_kernel_to_ustack "$BYTES" $LIMIT "$want"
ok "kernel -> ustack: $BYTES bytes, SHA-256 equal ($BULK_SAID)"

bulk_ustack_to_kernel "$BYTES" $LIMIT "$want"
ok "ustack -> kernel: $BYTES bytes, SHA-256 equal ($BULK_SAID)"

echo "$npass passed, 0 failed"
