/*
 * tcpgen: 64-byte TCP segments of one established flow, for the test-bed benchmark
 * (bench:fastpath part 2).
 *
 *   tcpgen listen PORT SECONDS            (in VM b) accept one connection, hold it open
 *   tcpgen send IFACE DST_IPV4 PORT SECS  (in VM a) connect, then send raw segments
 *
 * `send` opens a real connection (so b's kernel has the established flow), reads its
 * sequence numbers through TCP_REPAIR (which also keeps a's kernel from sending anything
 * more on it), then writes that flow's next segment straight to IFACE with an AF_PACKET
 * socket, sendmmsg in batches of 64, for SECS seconds: a pure ACK with the exact
 * sequence and acknowledgment numbers b expects (14 + 20 + 20 = 54 bytes, padded to the
 * Ethernet minimum of 60 as a NIC would: 64 on the wire with the FCS). b's TCP takes each
 * through its established-connection path as a duplicate ACK and answers nothing (a
 * segment with data, even an old one, would be answered by an ACK each: two streams, not
 * one), so this is a steady one-way stream of 64-byte established-flow TCP, like
 * udpgen's UDP. Prints the number of segments the kernel accepted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define FRAME 60 /* 54 bytes of headers + Ethernet padding */

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint32_t sum16(const uint8_t *p, uint32_t len, uint32_t sum)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)(v >> 16)); wr16(p + 2, (uint16_t)v); }

static int listen_mode(int port, double secs)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0), c;
	char buf[2048];
	double end = now() + secs;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };

	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) || bind(s, (void *)&a, sizeof(a)) ||
	    listen(s, 1)) {
		perror("tcpgen listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((c = accept(s, NULL, NULL)) < 0 && now() < end)
		;
	if (c >= 0)
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (now() < end)
		if (c < 0 || recv(c, buf, sizeof(buf), 0) == 0)
			usleep(100000); /* peer gone (or never came): just wait out the time */
	return 0;
}

/* The destination MAC the kernel resolved for ip (the connection's handshake did it). */
static int neigh_mac(const char *ip, uint8_t mac[6])
{
	char line[256], addr[64], hw[64];
	FILE *f = fopen("/proc/net/arp", "r");
	int found = 0;
	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %*s %*s %63s", addr, hw) == 2 && !strcmp(addr, ip) &&
		    sscanf(hw, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) == 6)
			found = 1;
	fclose(f);
	return found ? 0 : -1;
}

static int send_mode(const char *ifname, const char *dst_ip, int port, double secs)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) }, src;
	socklen_t sl = sizeof(src);
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_halen = 6 };
	struct ifreq ifr;
	uint8_t frames[BATCH][FRAME], smac[6], dmac[6];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint32_t snd_seq = 0, rcv_seq = 0, sum;
	uint8_t pseudo[12];
	unsigned long long sent = 0;
	int on = 1, c, p, i;
	socklen_t ql = sizeof(snd_seq);
	double end, give_up = now() + 5;

	if (inet_pton(AF_INET, dst_ip, &dst.sin_addr) != 1)
		return 2;
	/* The listener may still be starting: retry the connection for a few seconds. */
	for (;;) {
		c = socket(AF_INET, SOCK_STREAM, 0);
		if (c >= 0 && connect(c, (void *)&dst, sizeof(dst)) == 0)
			break;
		if (c >= 0)
			close(c);
		if (now() > give_up) {
			perror("tcpgen connect");
			return 1;
		}
		usleep(100000);
	}
	getsockname(c, (void *)&src, &sl);
	/* Repair mode: read both sequence numbers, and the kernel stays silent on this flow. */
	if (setsockopt(c, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) ||
	    setsockopt(c, IPPROTO_TCP, TCP_REPAIR_QUEUE, &(int){ TCP_SEND_QUEUE }, sizeof(int)) ||
	    getsockopt(c, IPPROTO_TCP, TCP_QUEUE_SEQ, &snd_seq, &ql) ||
	    setsockopt(c, IPPROTO_TCP, TCP_REPAIR_QUEUE, &(int){ TCP_RECV_QUEUE }, sizeof(int)) ||
	    getsockopt(c, IPPROTO_TCP, TCP_QUEUE_SEQ, &rcv_seq, &ql)) {
		perror("tcpgen TCP_REPAIR");
		return 1;
	}
	if (neigh_mac(dst_ip, dmac)) {
		fprintf(stderr, "tcpgen: no neighbour entry for %s\n", dst_ip);
		return 1;
	}
	p = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (p < 0 || ioctl(p, SIOCGIFHWADDR, &ifr) || !(ll.sll_ifindex = (int)if_nametoindex(ifname))) {
		perror("tcpgen packet socket");
		return 1;
	}
	memcpy(smac, ifr.ifr_hwaddr.sa_data, 6);
	memcpy(ll.sll_addr, dmac, 6);
	if (bind(p, (void *)&ll, sizeof(ll))) {
		perror("tcpgen bind");
		return 1;
	}
	memset(frames, 0, sizeof(frames));
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < BATCH; i++) {
		uint8_t *f = frames[i], *ip = f + 14, *tcp = ip + 20;
		memcpy(f, dmac, 6);
		memcpy(f + 6, smac, 6);
		wr16(f + 12, 0x0800);
		ip[0] = 0x45;
		wr16(ip + 2, 20 + 20);
		wr16(ip + 6, 0x4000);
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, &src.sin_addr, 4);
		memcpy(ip + 16, &dst.sin_addr, 4);
		wr16(ip + 10, fold(sum16(ip, 20, 0)));
		memcpy(tcp, &src.sin_port, 2);
		memcpy(tcp + 2, &dst.sin_port, 2);
		wr32(tcp + 4, snd_seq);
		wr32(tcp + 8, rcv_seq);
		tcp[12] = 5 << 4;
		tcp[13] = 0x10; /* ACK */
		wr16(tcp + 14, 0xffff);
		memcpy(pseudo, ip + 12, 8);
		pseudo[8] = 0;
		pseudo[9] = 6;
		wr16(pseudo + 10, 20);
		sum = sum16(pseudo, 12, 0);
		wr16(tcp + 16, fold(sum16(tcp, 20, sum)));
		iov[i].iov_base = f;
		iov[i].iov_len = FRAME;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	end = now() + secs;
	while (now() < end) {
		int n;
		n = sendmmsg(p, msgs, BATCH, 0);
		if (n > 0)
			sent += (unsigned)n;
		else if (errno != ENOBUFS && errno != EAGAIN) {
			perror("tcpgen sendmmsg");
			break;
		}
	}
	printf("%llu\n", sent);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "listen"))
		return listen_mode(atoi(argv[2]), atof(argv[3]));
	if (argc == 6 && !strcmp(argv[1], "send"))
		return send_mode(argv[2], argv[3], atoi(argv[4]), atof(argv[5]));
	fprintf(stderr, "usage: tcpgen listen PORT SECONDS | tcpgen send IFACE DST_IPV4 PORT SECONDS\n");
	return 2;
}
