#!/usr/bin/env bash
# Kernel interop under impairment (issue 5): ustack runs with its own
# impairment wrapper on the TAP, both directions (this kernel has no
# netem), USTACK_IMPAIR="loss=5%,delay=20ms,reorder=5%,seed=7" unless set;
# then bytes each way between ustack and the kernel, SHA-256 compared: a
# kernel client (python) to a ustack server, then a ustack client to a
# kernel server. The issue asks for 100 MB each way; under this impairment
# that takes longer than a CTest run should, so the default is
# IMPAIR_BYTES=8000000 (55-75 s here: ustack sends at ~0.11 MB/s under
# this impairment, as the kernel's own CUBIC does; the kernel's default
# BBR sends at ~3.5 MB/s, see docs/netsim.md), and
# `IMPAIR_BYTES=100000000 bash tests/interop/tcp_impair.sh BUILD` runs the
# full size (about 15 minutes; the time bound grows with the size).
export USTACK_IMPAIR=${USTACK_IMPAIR:-loss=5%,delay=20ms,reorder=5%,seed=7}
. "$(dirname "$0")/lib/common.sh"

BYTES=${IMPAIR_BYTES:-8000000}
# Seconds per direction: 140, or enough for 50 KB/s when the size asks more.
LIMIT=${IMPAIR_LIMIT:-$(( BYTES / 50000 > 140 ? BYTES / 50000 : 140 ))}

ns_setup impair
T0=$(date +%s.%N)
want=$("$BUILD/tests/tcp_bulk" gen "$BYTES" | sha256sum | cut -d' ' -f1)

bulk_kernel_to_ustack "$BYTES" "$LIMIT" "$want"
T1=$(date +%s.%N)
ok "kernel -> ustack under $USTACK_IMPAIR: $BYTES bytes in $(awk "BEGIN{printf \"%.1f\", $T1 - $T0}") s, SHA-256 equal ($BULK_SAID)"

bulk_ustack_to_kernel "$BYTES" "$LIMIT" "$want"
T2=$(date +%s.%N)
ok "ustack -> kernel under $USTACK_IMPAIR: $BYTES bytes in $(awk "BEGIN{printf \"%.1f\", $T2 - $T1}") s, SHA-256 equal ($BULK_SAID)"

echo "$npass passed, 0 failed"
