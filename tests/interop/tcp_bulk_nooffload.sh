#!/usr/bin/env bash
# tcp_bulk.sh with USTACK_OFFLOAD=0: the TAP without IFF_VNET_HDR, one plain
# frame per read and write (tcp_bulk.sh itself runs with the offloads on:
# TSO frames from the kernel split, runs of segments sent as one).
export USTACK_OFFLOAD=0
export BULK_BYTES=${BULK_BYTES:-20000000}
exec bash "$(dirname "$0")/tcp_bulk.sh" "$@"
