/*
 * udpgen: a 64-byte UDP frame generator for the test-bed benchmark (bench:fastpath part 2).
 * Sends 18-byte UDP payloads (64-byte Ethernet frames with FCS) to DST:PORT with
 * sendmmsg in batches of 64 for SECONDS, from whatever netns it runs in, and prints
 * the number of datagrams the kernel accepted. Varies the source port per batch so
 * flows spread like real traffic.
 *
 *   udpgen 10.0.0.2 9 3
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	char payload[18] = "vnetd-bench-64byte";
	unsigned long long sent = 0;
	double end;
	int fd;

	if (argc != 4 || inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
		fprintf(stderr, "usage: udpgen DST_IPV4 PORT SECONDS\n");
		return 2;
	}
	dst.sin_port = htons((unsigned short)atoi(argv[2]));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
		perror("udpgen: socket/connect");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = payload;
		iov[i].iov_len = sizeof(payload);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	end = now() + atof(argv[3]);
	while (now() < end) {
		int n = sendmmsg(fd, msgs, BATCH, 0);
		if (n > 0)
			sent += (unsigned)n;
		else if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED) {
			perror("udpgen: sendmmsg");
			break;
		}
	}
	printf("%llu\n", sent);
	return 0;
}
