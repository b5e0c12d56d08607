/* Every counter of a stack, in one list: frames in and out and one drop
 * counter per reason. `ustack stat` prints them by these names. Add a reason
 * here when a new drop path appears; never drop without counting. */
#ifndef USTACK_CORE_COUNTERS_H
#define USTACK_CORE_COUNTERS_H

#define STK_COUNTERS(X) \
	X(rx_frames) X(rx_bytes) X(tx_frames) X(tx_bytes) \
	X(rx_arp) X(rx_ipv4) X(rx_icmp) X(rx_udp) X(rx_tcp) \
	X(tx_arp_request) X(tx_arp_reply) X(tx_icmp_echo_reply) X(tx_icmp_unreach) \
	X(tx_icmp_echo_request) X(rx_icmp_echo_reply) X(rx_icmp_error) \
	X(ip_frags_in) X(ip_reassembled) X(ip_frag_timeouts) X(ip_frags_out) \
	X(drop_nobuf) X(drop_link_tx) X(drop_txq_full) \
	X(drop_eth_short) X(drop_eth_not_for_us) X(drop_eth_type) \
	X(drop_arp_malformed) X(drop_arp_not_for_us) X(drop_arp_queue_full) X(drop_arp_unresolved) \
	X(drop_arp_table_full) \
	X(drop_ip_short) X(drop_ip_version) X(drop_ip_hdr_len) X(drop_ip_total_len) \
	X(drop_ip_checksum) X(drop_ip_not_for_us) X(drop_ip_ttl) X(drop_ip_proto) \
	X(drop_ip_bad_src) X(drop_ip_no_route) X(drop_ip_too_big) \
	X(drop_frag_bad) X(drop_frag_mem) X(drop_frag_overlap) X(drop_frag_dup) X(drop_frag_table_full) \
	X(drop_icmp_short) X(drop_icmp_checksum) X(drop_icmp_type) X(drop_icmp_quote) \
	X(drop_udp_short) X(drop_udp_len) X(drop_udp_checksum) X(drop_udp_no_port) X(drop_udp_rcvbuf) \
	X(drop_tcp_short) X(drop_tcp_hdr_len) X(drop_tcp_checksum) X(drop_tcp_options) \
	X(drop_tcp_flags) X(drop_tcp_no_socket) X(drop_tcp_unacceptable) \
	X(drop_tcp_syn_queue_full) X(drop_tcp_accept_queue_full) X(drop_tcp_ooo_mem) \
	X(drop_tcp_rcv_mem) \
	X(tcp_active_opens) X(tcp_passive_opens) X(tcp_retransmits) X(tcp_rst_sent) \
	X(tcp_rst_rcvd) X(tcp_timeouts) X(tcp_segs_in) X(tcp_segs_out) \
	X(drop_tcp_paws) X(drop_tcp_bad_ack) X(drop_tcp_rst_seq) X(drop_tcp_syn_in_sync) \
	X(tcp_challenge_acks) X(tcp_challenge_ack_limited) X(tcp_rst_limited) \
	X(tcp_syncookies_sent) X(tcp_syncookies_recv) X(tcp_syncookies_failed) \
	X(tx_icmp_limited) \
	X(tcp_rto) X(tcp_fast_recovery) X(tcp_sack_recovery) X(tcp_dsack_sent) \
	X(tcp_sack_blocks_sent) X(tcp_tlp) \
	X(tcp_icmp_errors) X(drop_tcp_icmp_nomatch) X(drop_tcp_icmp_seq) \
	X(tcp_tx_waits)

enum stk_counter {
#define STK_COUNTER_ENUM(name) CNT_##name,
	STK_COUNTERS(STK_COUNTER_ENUM)
#undef STK_COUNTER_ENUM
	CNT__COUNT
};

extern const char *const stk_counter_names[CNT__COUNT];

#endif
