#!/usr/bin/env bash
# The human table of a benchmark run: reads ustack-bench's machine lines on
# stdin, prints one row per figure with the goal and whether it is met.
awk '
function v(k) { return (k in kv) ? kv[k] : "NA" }
function goal(name, ratio, want, op,   s) {
	if (ratio == "NA") return sprintf("%-8s %s", op want, "NA")
	s = (op == ">=" ? ratio + 0 >= want : ratio + 0 <= want) ? "met" : "not met"
	return sprintf("%-8s %s", op want, s)
}
function row(fig, u, k, r, g) { printf "%-20s %-22s %-22s %-8s %s\n", fig, u, k, r, g }
BEGIN {
	row("figure", "ustack", "kernel", "ratio", "goal")
	row("------", "------", "------", "-----", "----")
}
/^#/ || NF == 0 { next }
{
	delete kv
	for (i = 2; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
	n = $1
	if (n ~ /^bulk_/) {
		g = (n == "bulk_memlink") ? goal(n, v("ratio"), 2, ">=") : goal(n, v("ratio"), 1, ">=")
		row(n, v("ustack_gbps") " Gbit/s", v("kernel_gbps") " Gbit/s", v("ratio"), g)
	} else if (n ~ /^crr_/) {
		g = (n == "crr_memlink") ? goal(n, v("ratio"), 10, ">=") : "-"
		row(n, v("ustack_cps") " conn/s", v("kernel_cps") " conn/s", v("ratio"), g)
	} else if (n ~ /^rr_/) {
		g = (n == "rr_memlink") ? goal(n, v("ratio"), 0.1, "<=") : "-"
		row(n, "p50 " v("ustack_p50_us") " us", "p50 " v("kernel_p50_us") " us", v("ratio"), g)
		row("", "p99 " v("ustack_p99_us") " us", "p99 " v("kernel_p99_us") " us", "", "")
	} else if (n ~ /^conns_tap/) {
		row(n, "open " v("ustack_cps_open") "/s", "open " v("kernel_cps_open") "/s", v("ratio_cps"), "-")
		row("", "server " v("server_bytes_per_conn") " B", "server " v("kernel_server_bytes_per_conn") " B", v("ratio_server_bytes"), "")
		row("", "epoll " v("epoll_round_us") " us", "epoll " v("kernel_epoll_round_us") " us", "", "")
	} else if (n ~ /^conns_/) {
		row(n, "open " v("ustack_cps_open") "/s", "open " v("kernel_cps_open") "/s", v("ratio_cps"), "-")
		sb = v("server_bytes_per_conn")
		g = (sb == "NA") ? "<400 B   NA" : sprintf("%-8s %s", "<400 B", (sb + 0 < 400) ? "met" : "not met")
		row("", "server " sb " B", "server " v("kernel_server_bytes_per_conn") " B", v("ratio_server_bytes"), g)
		row("", "client " v("client_bytes_per_conn") " B", "client " v("kernel_client_bytes_per_conn") " B", "", "")
		row("", "epoll " v("epoll_round_us") " us", "epoll " v("kernel_epoll_round_us") " us", "", "")
		row("", "opened " v("ustack_opened"), "opened " v("kernel_opened"), "", "")
		row("", "tcb " v("tcb_bytes") " B, sock " v("sock_bytes") " B", "", "", "")
	} else {
		print
	}
}
END {
	print ""
	print "ratio = ustack / kernel (gbps, conn/s: higher is better; latency, bytes: lower is better)."
	print "The server-bytes goal (<400 B) is the issue'"'"'s goal for 10M connections; smaller N shows the trend."
}'
