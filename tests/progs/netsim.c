/* netsim: bulk transfers between two ustack stacks over an impaired memlink,
 * on virtual time, for every condition and congestion control; prints a
 * goodput table (Markdown). Deterministic: the same seed gives the same
 * table, so docs/netsim.md shows in a diff when recovery gets worse.
 *
 *   netsim [-s MB] [-c cond] [-a reno|cubic] [-v 1]
 *
 * -v 1 prints the sender's recovery counters to stderr for each row (RTOs,
 * fast and SACK recovery episodes, tail loss probes, receiver drops).
 *
 * Goodput is application bytes over virtual time from the accept to the
 * last byte read. The conditions are those of issue 5; every one also has
 * a 10 ms one-way delay (20 ms RTT) and a 100 Mbit/s rate per direction,
 * so a window's worth of loss costs what it costs on a real path. */
#include <stdlib.h>
#include <string.h>

#include "../unit/netsim.h"

struct cond {
	const char *name;
	const char *impair;
};

static const struct cond conds[] = {
	{"clean", "delay=10ms,rate=100mbit,seed=1"},
	{"loss 1%", "loss=1%,delay=10ms,rate=100mbit,seed=2"},
	{"loss 5%", "loss=5%,delay=10ms,rate=100mbit,seed=3"},
	{"loss 10%", "loss=10%,delay=10ms,rate=100mbit,seed=4"},
	{"reorder 5%", "reorder=5%,delay=10ms,rate=100mbit,seed=5"},
	{"dup 1%", "dup=1%,delay=10ms,rate=100mbit,seed=6"},
	{"corrupt 0.1%", "corrupt=0.1%,delay=10ms,rate=100mbit,seed=7"},
	{"delay 20ms", "delay=20ms,rate=100mbit,seed=8"},
	{"delay 200ms", "delay=200ms,rate=100mbit,seed=9"},
};

int main(int argc, char **argv)
{
	uint64_t mb = 50;
	const char *only = NULL, *algs[2] = {"reno", "cubic"};
	int nalg = 2, fails = 0, verbose = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-s"))
			mb = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "-c"))
			only = argv[i + 1];
		else if (!strcmp(argv[i], "-a")) {
			algs[0] = argv[i + 1];
			nalg = 1;
		} else if (!strcmp(argv[i], "-v")) {
			verbose = atoi(argv[i + 1]);
		}
	}
	printf("| condition | impairment (each direction) | cc | MB | virtual s | goodput Mbit/s"
	       " | retransmits | checksum drops |\n");
	printf("|---|---|---|---:|---:|---:|---:|---:|\n");
	for (size_t c = 0; c < sizeof(conds) / sizeof(conds[0]); c++) {
		if (only && strcmp(only, conds[c].name))
			continue;
		for (int a = 0; a < nalg; a++) {
			struct netsim_result r;
			int rc = netsim_run(conds[c].impair, algs[a], mb << 20, 4u << 20, &r);
			double s = (double)r.vtime_us / 1e6;

			if (rc) {
				printf("| %s | %s | %s | %llu | FAIL: %s | | | |\n", conds[c].name,
				       conds[c].impair, algs[a], (unsigned long long)mb, r.err);
				fails++;
				continue;
			}
			printf("| %s | %s | %s | %llu | %.2f | %.2f | %llu | %llu |\n", conds[c].name,
			       conds[c].impair, algs[a], (unsigned long long)mb, s,
			       s > 0 ? (double)r.bytes * 8 / s / 1e6 : 0.0,
			       (unsigned long long)r.retrans, (unsigned long long)r.csum_drops);
			fflush(stdout);
			if (verbose)
				fprintf(stderr, "  %s %s: rto %llu fast_rec %llu sack_rec %llu"
				        " ooo_drops %llu dsack_sent %llu\n", conds[c].name, algs[a],
				        (unsigned long long)r.rto, (unsigned long long)r.fast_rec,
				        (unsigned long long)r.sack_rec, (unsigned long long)r.ooo_drops,
				        (unsigned long long)r.dsack_sent);
		}
	}
	return fails ? 1 : 0;
}
