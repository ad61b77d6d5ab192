/*
 * AF_XDP ports: one XDP program + one socket + one UMEM per (interface, queue).
 *
 * Copy mode only (zero-copy bind fails on our veths), so frames are copied between
 * UMEMs when they leave by another interface: the kernel copies in copy mode anyway,
 * and one UMEM per socket keeps each port independent. The loop per call is
 * rx batch -> vfp_forward_umem (classify + act in place, using the chunk headroom for
 * encapsulation) -> copy each frame into its output port's UMEM and queue it on that
 * port's TX ring -> recycle rx chunks to the fill ring -> reap completions.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <xdp/xsk.h>

#include "../include/vfp.h"
#include "xsk.h"

/* A UMEM's lower frames feed RX (all of them fit in the fill ring), the upper ones are TX
 * chunks; each ring holds its side's frames. The UMEM is pinned memory, paid per port, so its
 * size follows what the port carries. A deep RX side absorbs the runner being scheduled out on
 * a busy machine (with 1024 RX frames the fill ring ran empty, XDP_STATISTICS
 * rx_fill_ring_empty_descs, while the sender kept going; with 2048 a VM's blast forwarded about
 * 6% less than with 4096). The TX side needs little: copy mode completes a transmission within
 * its sendto, so a port's chunks in flight are what one call queues (512 or 4096 made no
 * difference). So a VM's NIC, which a hypervisor pays per VM, has 4096 + 512 frames, 9 MiB; the
 * underlay, which carries every VM's traffic, 4096 + 4096, 16 MiB (OVS's afxdp ports take 32
 * each). test/bench/HISTORY.md, 2026-11-30 "UMEM per VM NIC". VFP_XSK_VM_UMEM=RX/TX (powers
 * of two, 64 to 4096 each) overrides a VM NIC's, for comparisons. */
#define UMEM_RX_UNDERLAY 4096u
#define UMEM_TX_UNDERLAY 4096u
#define UMEM_RX_VM 4096u
#define UMEM_TX_VM 512u
#define UMEM_SIDE_MAX 4096u
#define FRAME_SIZE 2048u /* XSK_UMEM__DEFAULT_FRAME_SIZE: one page holds two */
#define BATCH 64u
/* Calls in a row a held batch may wait for its output before it is dropped: back-pressure
 * must not let one output that never drains (an interface set down: sendto answers
 * ENETDOWN and the TX ring stays full) stall every other destination of this input. */
#define PEND_MAX_FAILS 1024u

/* Linux 6.17+: frames a copy-mode sendto may transmit (default 32, TX_BATCH_SIZE); the
 * uapi header here predates it. */
#ifndef XDP_MAX_TX_SKB_BUDGET
#define XDP_MAX_TX_SKB_BUDGET 9
#endif

enum { ST_RX, ST_TX, ST_TX_FULL, ST_FAST, ST_SLOW, ST_DROP, ST_COUNT };

struct vfp_xsk {
	int ifindex;
	uint32_t queue, xdp_flags;
	char ifname[16];
	struct bpf_object *obj;
	int attached;
	int conn_inherited; /* vfp_conn is the map of the program this one replaced */
	int cfg_fd;         /* the program's vfp_cfg map (one of kept[]), and what was last written there */
	int kept[9];        /* the maps of KEPT this port's role uses once attached, else -1 */
	pthread_mutex_t cfg_mu; /* cfg's writers: the runner thread's hold, a caller's set_net */
	struct xdp_cfg {    /* struct vfp_cfg in bpf/xdp_redirect.c */
		uint32_t mode, flags;
		uint64_t hold_until;
		uint32_t queue, net;
		uint8_t mac[6];
		uint16_t pad;
	} cfg;
	uint32_t rx_frames, tx_frames; /* the UMEM's two sides, powers of two */
	uint8_t *area;
	struct xsk_umem *umem;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	struct xsk_socket *xsk;
	/* TX chunks: the UMEM's frames above the RX ones, handed out from this stack. */
	uint64_t free_tx[UMEM_SIDE_MAX];
	uint32_t n_free_tx;
	/* Frames already classified and rewritten whose output port's TX ring was full:
	 * they go first on the next call, and until they have gone no new frame is taken
	 * from RX (back-pressure: the kernel keeps the rest in our RX ring). */
	struct { uint64_t chunk; uint32_t off, len, port; } pend[BATCH];
	uint32_t n_pend;
	uint32_t pend_fails; /* calls in a row that could not send what is held */
	uint32_t queued; /* frames put on TX since the last kick */
	uint64_t st[ST_COUNT];
};

static size_t umem_bytes(const struct vfp_xsk *x)
{
	return (size_t)(x->rx_frames + x->tx_frames) * FRAME_SIZE;
}

static void errf(char *err, uint32_t len, const char *what, int e)
{
	if (err && len)
		snprintf(err, len, "%s: %s", what, strerror(e < 0 ? -e : e));
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns's clock */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The vfp_conn map of the XDP program already on the interface, when it is one of ours with
 * the same layout: an earlier process's (stopped or killed) whose program stayed attached.
 * The new program takes that very map, so the connections it lists keep being handed to a
 * socket (or held) with no gap, and the runner takes them over (runner.c, adopt_conns).
 */
/*
 * The id of the XDP program attached to one interface in the mode of xdp_flags (0: none), by one
 * RTM_GETLINK for that interface. libbpf's bpf_xdp_query_id dumps every link of the namespace
 * and keeps one: beside a thousand NICs that dump was a third of a port's opening, and the
 * runner opens them all (perf, 2026-12-01).
 */
static int xdp_prog_id(int ifindex, uint32_t xdp_flags, uint32_t *id)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
		struct rtattr ext;
		uint32_t mask;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
		.ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex },
		.ext = { .rta_len = RTA_LENGTH(sizeof(uint32_t)), .rta_type = IFLA_EXT_MASK },
		.mask = RTEXT_FILTER_SKIP_STATS,
	};
	unsigned short want = (xdp_flags & XDP_FLAGS_SKB_MODE) ? IFLA_XDP_SKB_PROG_ID : IFLA_XDP_DRV_PROG_ID;
	size_t cap = 64 * 1024;
	char *buf = malloc(cap);
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), rc = -EIO;
	ssize_t len;

	*id = 0;
	if (!buf || fd < 0 || send(fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req) || (len = recv(fd, buf, cap, 0)) < 0) {
		rc = -errno;
		goto out;
	}
	for (struct nlmsghdr *nh = (void *)buf; NLMSG_OK(nh, (size_t)len); nh = NLMSG_NEXT(nh, len)) {
		if (nh->nlmsg_type == NLMSG_ERROR) {
			rc = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
			goto out;
		}
		if (nh->nlmsg_type != RTM_NEWLINK)
			continue;
		struct ifinfomsg *ifi = NLMSG_DATA(nh);
		int alen = (int)IFLA_PAYLOAD(nh);
		for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
			if ((a->rta_type & NLA_TYPE_MASK) != IFLA_XDP)
				continue;
			int xlen = (int)RTA_PAYLOAD(a);
			for (struct rtattr *x = RTA_DATA(a); RTA_OK(x, xlen); x = RTA_NEXT(x, xlen))
				if (x->rta_type == want && RTA_PAYLOAD(x) >= sizeof(uint32_t))
					memcpy(id, RTA_DATA(x), sizeof(*id));
		}
		rc = 0;
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* The kernel keeps 15 characters of a program's name. "vfp_xdp_redirec": the one program of
 * both roles before 2026-12-01, still attached where an older process left it. */
static int is_our_program(const char *name)
{
	return !strcmp(name, "vfp_xdp_vm") || !strcmp(name, "vfp_xdp_underla") || !strcmp(name, "vfp_xdp_redirec");
}

static int inherited_conn_map(struct vfp_xsk *x)
{
	uint32_t prog_id = 0, map_ids[16], i, n;
	struct bpf_prog_info pinfo;
	uint32_t plen = sizeof(pinfo);
	int pfd, found = -1;

	if (xdp_prog_id(x->ifindex, x->xdp_flags, &prog_id) || !prog_id)
		return -1;
	pfd = bpf_prog_get_fd_by_id(prog_id);
	if (pfd < 0)
		return -1;
	memset(&pinfo, 0, sizeof(pinfo));
	pinfo.nr_map_ids = sizeof(map_ids) / sizeof(map_ids[0]);
	pinfo.map_ids = (uint64_t)(uintptr_t)map_ids;
	if (bpf_obj_get_info_by_fd(pfd, &pinfo, &plen) || !is_our_program(pinfo.name)) {
		close(pfd);
		return -1;
	}
	n = pinfo.nr_map_ids < 16 ? pinfo.nr_map_ids : 16;
	for (i = 0; i < n && found < 0; i++) {
		struct bpf_map_info minfo;
		uint32_t mlen = sizeof(minfo);
		int mfd = bpf_map_get_fd_by_id(map_ids[i]);
		if (mfd < 0)
			continue;
		memset(&minfo, 0, sizeof(minfo));
		if (!bpf_obj_get_info_by_fd(mfd, &minfo, &mlen) && !strcmp(minfo.name, "vfp_conn") &&
		    minfo.type == BPF_MAP_TYPE_HASH && minfo.key_size == sizeof(struct vfp_conn_key) &&
		    minfo.value_size == sizeof(struct vfp_conn_val))
			found = mfd;
		else
			close(mfd);
	}
	close(pfd);
	return found;
}

/* Roles: a VM NIC's program reads vfp_src, vfp_src6, vfp_vip and the node's shared vfp_dst
 * and vfp_vipaddr (node-tables.ts interfaceFilters writes them; load_prog shares the node's);
 * the underlay's reads vfp_inner, vfp_target, vfp_lbnet and vfp_ours. A hash map's bucket
 * array is allocated whole when it is created (16 bytes per entry of max_entries, elements
 * only as used: BPF_F_NO_PREALLOC), and a hypervisor pays it per VM NIC. */
static int is_underlay(uint32_t mode) { return mode == VFP_XDP_TUNNELS_ONLY || mode == VFP_XDP_UNDERLAY_FILTERED; }
static const char *role_program(uint32_t mode) { return is_underlay(mode) ? "vfp_xdp_underlay" : "vfp_xdp_vm"; }

/*
 * A VM NIC's vfp_conn holds the keys of the connections whose frames arrive at it (as a
 * client, or as a local backend): room for half the connections the node's LRU holds (65,536
 * ways, two per connection), which only a very busy VM would fill; a connection that finds it
 * full stays with OVS. At 65,536 entries (the underlay's size: it carries every remote
 * connection) its bucket array was 1 MiB per VM NIC, 1.5 GiB of kernel memory at 1,500 NICs,
 * and creating it 1.6 ms of each port's opening (0.64 ms at this size).
 */
#define VM_CONN_ENTRIES 16384u

/* Gives each named map of obj one entry (before it is loaded). */
static int one_entry(struct bpf_object *obj, const char *const names[], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, names[i]);
		int rc = m ? bpf_map__set_max_entries(m, 1) : -ENOENT;
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Only the role's program is loaded (the verifier walks every path of each program loaded),
 * and the other role's maps are not created: its program alone reads them. The role's own
 * maps a mode without filter keys never writes keep their size (a hash map's bucket array is
 * what its max_entries costs; its elements come as they are written).
 */
static int load_role_only(struct bpf_object *obj, uint32_t mode)
{
	static const char *const vm_only[] = { "vfp_dst", "vfp_src", "vfp_src6", "vfp_vip", "vfp_vipaddr" };
	static const char *const underlay_only[] = { "vfp_inner", "vfp_target", "vfp_lbnet", "vfp_ours" };
	const char *const *other = is_underlay(mode) ? vm_only : underlay_only;
	size_t n = is_underlay(mode) ? sizeof(vm_only) / sizeof(vm_only[0]) : sizeof(underlay_only) / sizeof(underlay_only[0]);
	const char *prog = role_program(mode);
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj) {
		int rc = bpf_program__set_autoload(p, !strcmp(bpf_program__name(p), prog));
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < n; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, other[i]);
		int rc = m ? bpf_map__set_autocreate(m, false) : -ENOENT;
		if (rc)
			return rc;
	}
	return 0;
}

/* Sizes of the shared maps: bpf/xdp_redirect.c's vfp_dst and vfp_vipaddr (key and entries). */
#define SHARED_DST_KEY 12u
#define SHARED_DST_MAX 262144u
#define SHARED_VIPADDR_KEY 8u
#define SHARED_VIPADDR_MAX 65536u

int vfp_xsk_shared_create(struct vfp_xsk_shared *s, char *err, uint32_t errlen)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);

	s->dst = bpf_map_create(BPF_MAP_TYPE_HASH, "vfp_dst", SHARED_DST_KEY, 1, SHARED_DST_MAX, &opts);
	s->vipaddr = s->dst < 0 ? -1 : bpf_map_create(BPF_MAP_TYPE_HASH, "vfp_vipaddr", SHARED_VIPADDR_KEY, 1, SHARED_VIPADDR_MAX, &opts);
	if (s->dst < 0 || s->vipaddr < 0) {
		errf(err, errlen, "create the node's filter maps", errno);
		vfp_xsk_shared_close(s);
		return -1;
	}
	return 0;
}

void vfp_xsk_shared_close(struct vfp_xsk_shared *s)
{
	if (s->dst >= 0)
		close(s->dst);
	if (s->vipaddr >= 0)
		close(s->vipaddr);
	s->dst = s->vipaddr = -1;
}

static int reuse_map(struct bpf_object *obj, const char *name, int fd)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
	return fd < 0 ? 0 : m ? bpf_map__reuse_fd(m, fd) : -ENOENT;
}

/* The program's maps a port uses once its program is attached (vfp_xsk_map_fd): the object,
 * its program's descriptor and the other maps' are closed then (the attached program keeps
 * them alive). A port held 14 descriptors, 7 now: 1,500 NICs on each of two nodes passed the
 * process's limit of 20,000 (bench:converge, 2026-12-01). */
static const char *const KEPT[] = { "vfp_cfg", "vfp_xsks", "vfp_conn", "vfp_src", "vfp_src6", "vfp_vip", "vfp_inner", "vfp_target", "vfp_lbnet" };
#define N_KEPT (sizeof(KEPT) / sizeof(KEPT[0]))
#define N_KEPT_COMMON 3u /* the first three, every role's; then three a VM NIC's, three the underlay's */
_Static_assert(N_KEPT == sizeof(((struct vfp_xsk *)0)->kept) / sizeof(int), "kept[] holds KEPT");

static int keep_maps(struct vfp_xsk *x, uint32_t mode)
{
	uint32_t from = is_underlay(mode) ? N_KEPT_COMMON + 3 : N_KEPT_COMMON;

	for (uint32_t i = 0; i < N_KEPT; i++) {
		int fd = i < N_KEPT_COMMON || (i >= from && i < from + 3) ? bpf_object__find_map_fd_by_name(x->obj, KEPT[i]) : -1;
		if (fd >= 0 && (x->kept[i] = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
			return -errno;
	}
	x->cfg_fd = x->kept[0];
	bpf_object__close(x->obj);
	x->obj = NULL;
	return 0;
}

static int load_prog(struct vfp_xsk *x, const char *obj_path, uint32_t mode, uint32_t flags,
		     const struct vfp_xsk_shared *shared, char *err, uint32_t errlen)
{
	struct bpf_program *prog;
	int rc, map, zero = 0, old;

	x->obj = bpf_object__open_file(obj_path, NULL);
	if (!x->obj) {
		errf(err, errlen, "open xdp object", errno);
		return -errno;
	}
	old = inherited_conn_map(x);
	if (old >= 0) {
		struct bpf_map *m = bpf_object__find_map_by_name(x->obj, "vfp_conn");
		/* Same name and key and value sizes (checked above); libbpf takes its max_entries. */
		x->conn_inherited = m && !bpf_map__reuse_fd(m, old);
		close(old); /* reuse_fd holds its own duplicate */
	}
	if (!x->conn_inherited && !is_underlay(mode)) {
		struct bpf_map *m = bpf_object__find_map_by_name(x->obj, "vfp_conn");
		rc = m ? bpf_map__set_max_entries(m, VM_CONN_ENTRIES) : -ENOENT;
		if (rc) {
			errf(err, errlen, "size vfp_conn", rc);
			return rc;
		}
	}
	rc = load_role_only(x->obj, mode);
	if (rc) {
		errf(err, errlen, "choose the role's xdp program and maps", rc);
		return rc;
	}
	if (mode == VFP_XDP_VM_FILTERED) {
		/* A runner's VM NIC takes the node's maps; one opened alone has no network tag, so
		 * nothing reads its own: one entry each, as for the other role's maps. */
		static const char *const node_maps[] = { "vfp_dst", "vfp_vipaddr" };
		if (shared) {
			rc = reuse_map(x->obj, node_maps[0], shared->dst);
			if (!rc)
				rc = reuse_map(x->obj, node_maps[1], shared->vipaddr);
		} else {
			rc = one_entry(x->obj, node_maps, 2);
		}
		if (rc) {
			errf(err, errlen, "size or share the node's filter maps", rc);
			return rc;
		}
	}
	rc = bpf_object__load(x->obj);
	if (rc) {
		errf(err, errlen, "load xdp object", rc);
		return rc;
	}
	prog = bpf_object__find_program_by_name(x->obj, role_program(mode));
	if (!prog) {
		errf(err, errlen, role_program(mode), ENOENT);
		return -ENOENT;
	}
	x->cfg = (struct xdp_cfg){ .mode = mode, .flags = flags, .hold_until = monotonic_ns() + VFP_CONN_HOLD_NS, .queue = x->queue };
	x->cfg_fd = map = bpf_object__find_map_fd_by_name(x->obj, "vfp_cfg");
	if (map < 0 || bpf_map_update_elem(map, &zero, &x->cfg, 0)) {
		errf(err, errlen, "configure vfp_cfg", errno);
		return -errno;
	}
	if (is_underlay(mode)) { /* VXLAN and GENEVE are ours */
		uint16_t ports[2] = { htons(4789), htons(6081) };
		uint8_t one = 1;
		int i;
		map = bpf_object__find_map_fd_by_name(x->obj, "vfp_ours");
		for (i = 0; i < 2; i++)
			if (map < 0 || bpf_map_update_elem(map, &ports[i], &one, 0)) {
				errf(err, errlen, "configure vfp_ours", errno);
				return -errno;
			}
	}
	rc = bpf_xdp_attach(x->ifindex, bpf_program__fd(prog), x->xdp_flags, NULL);
	if (rc) {
		errf(err, errlen, "attach xdp program", rc);
		return rc;
	}
	x->attached = 1;
	rc = keep_maps(x, mode);
	if (rc)
		errf(err, errlen, "keep the program's maps", rc);
	return rc;
}

int vfp_xsk_hold(struct vfp_xsk *x, uint64_t until_ns)
{
	int zero = 0, rc;

	if (!x->attached)
		return -ENOENT;
	pthread_mutex_lock(&x->cfg_mu);
	x->cfg.hold_until = until_ns;
	rc = bpf_map_update_elem(x->cfg_fd, &zero, &x->cfg, 0) ? -errno : 0;
	pthread_mutex_unlock(&x->cfg_mu);
	return rc;
}

int vfp_xsk_set_net(struct vfp_xsk *x, uint32_t net, const uint8_t mac[6])
{
	int zero = 0, rc = 0;
	struct xdp_cfg was;

	if (!x->attached)
		return -ENOENT;
	pthread_mutex_lock(&x->cfg_mu);
	was = x->cfg;
	x->cfg.net = net;
	memcpy(x->cfg.mac, mac, 6);
	if (bpf_map_update_elem(x->cfg_fd, &zero, &x->cfg, 0)) {
		rc = -errno;
		x->cfg = was;
	}
	pthread_mutex_unlock(&x->cfg_mu);
	return rc;
}

int vfp_xsk_clear_net(struct vfp_xsk *x, uint32_t net, const uint8_t mac[6])
{
	static const uint8_t none[6];
	int same;

	pthread_mutex_lock(&x->cfg_mu);
	same = x->cfg.net == net && !memcmp(x->cfg.mac, mac, 6);
	pthread_mutex_unlock(&x->cfg_mu);
	/* (Only the caller, under the runner's ifs_mu, sets a tag: nothing sets another meanwhile.) */
	return same ? vfp_xsk_set_net(x, 0, none) : 0;
}

uint64_t vfp_xsk_now_ns(void) { return monotonic_ns(); }

int vfp_xsk_conn_inherited(const struct vfp_xsk *x) { return x->conn_inherited; }

void vfp_xsk_close(struct vfp_xsk *x)
{
	vfp_xsk_close_keep(x, 0);
}

void vfp_xsk_close_keep(struct vfp_xsk *x, int keep_program)
{
	if (!x)
		return;
	if (keep_program && x->attached)
		vfp_xsk_hold(x, monotonic_ns() + VFP_CONN_HOLD_NS);
	if (x->xsk)
		xsk_socket__delete(x->xsk);
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->attached && !keep_program)
		bpf_xdp_detach(x->ifindex, x->xdp_flags, NULL);
	if (x->obj)
		bpf_object__close(x->obj);
	for (uint32_t i = 0; i < N_KEPT; i++)
		if (x->kept[i] >= 0)
			close(x->kept[i]);
	if (x->area)
		munmap(x->area, umem_bytes(x));
	pthread_mutex_destroy(&x->cfg_mu);
	free(x);
}

int vfp_xsk_map_fd(const struct vfp_xsk *x, const char *name)
{
	if (x->obj) /* still loading */
		return bpf_object__find_map_fd_by_name(x->obj, name);
	for (uint32_t i = 0; i < N_KEPT; i++)
		if (!strcmp(KEPT[i], name))
			return x->kept[i] >= 0 ? x->kept[i] : -ENOENT;
	return -ENOENT;
}

/* One sendto transmits everything queued (up to the ring) instead of 32 frames: the
 * syscall's fixed cost is paid once per batch. Older kernels refuse the option
 * (ENOPROTOOPT) and keep 32 per call, which vfp_xsk_flush handles by calling again.
 * VFP_XSK_TX_BUDGET overrides it (0: leave the kernel's default), for comparisons. */
static void set_tx_budget(struct vfp_xsk *x)
{
	const char *env = getenv("VFP_XSK_TX_BUDGET");
	unsigned int budget = env ? (unsigned int)strtoul(env, NULL, 10) : x->tx_frames;

	if (budget && setsockopt(xsk_socket__fd(x->xsk), SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &budget, sizeof(budget)) &&
	    getenv("VFP_RUNNER_DEBUG"))
		fprintf(stderr, "vfp xsk: XDP_MAX_TX_SKB_BUDGET %u: %s\n", budget, strerror(errno));
}

struct vfp_xsk *vfp_xsk_open(const char *ifname, uint32_t queue, const char *obj_path, uint32_t mode,
			     uint32_t skb_mode, char *err, uint32_t errlen)
{
	return vfp_xsk_open_flags(ifname, queue, obj_path, mode, 0, skb_mode, err, errlen);
}

struct vfp_xsk *vfp_xsk_open_flags(const char *ifname, uint32_t queue, const char *obj_path, uint32_t mode,
				   uint32_t flags, uint32_t skb_mode, char *err, uint32_t errlen)
{
	struct vfp_xsk *x = vfp_xsk_open_program(ifname, queue, obj_path, mode, flags, skb_mode, NULL, err, errlen);

	if (x && (vfp_xsk_open_socket(x, err, errlen) || vfp_xsk_map_socket(x, err, errlen))) {
		vfp_xsk_close(x);
		return NULL;
	}
	return x;
}

struct vfp_xsk *vfp_xsk_open_program(const char *ifname, uint32_t queue, const char *obj_path, uint32_t mode,
				     uint32_t flags, uint32_t skb_mode, const struct vfp_xsk_shared *shared, char *err,
				     uint32_t errlen)
{
	struct vfp_xsk *x = calloc(1, sizeof(*x));

	if (!x) {
		errf(err, errlen, "alloc", ENOMEM);
		return NULL;
	}
	pthread_mutex_init(&x->cfg_mu, NULL);
	for (uint32_t i = 0; i < N_KEPT; i++)
		x->kept[i] = -1;
	x->cfg_fd = -1;
	x->queue = queue;
	x->xdp_flags = skb_mode ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	snprintf(x->ifname, sizeof(x->ifname), "%s", ifname);
	x->ifindex = (int)if_nametoindex(ifname);
	if (!x->ifindex) {
		errf(err, errlen, "if_nametoindex", errno);
		goto fail;
	}
	if (load_prog(x, obj_path, mode, flags, shared, err, errlen))
		goto fail;
	return x;
fail:
	vfp_xsk_close(x);
	return NULL;
}

static int umem_side_ok(unsigned long n) { return n >= 64 && n <= UMEM_SIDE_MAX && !(n & (n - 1)); }

/* vfp_xsk_set_vm_umem's sizes (0: none set) */
static _Atomic uint32_t vm_umem_set;

int vfp_xsk_set_vm_umem(uint32_t rx, uint32_t tx)
{
	if ((rx || tx) && !(umem_side_ok(rx) && umem_side_ok(tx)))
		return -EINVAL;
	vm_umem_set = rx << 16 | tx;
	return 0;
}

/* The UMEM's two sides for this port's role (the mode its program runs in). */
static void size_umem(struct vfp_xsk *x)
{
	const char *env = getenv("VFP_XSK_VM_UMEM");
	char *slash = NULL;
	unsigned long rx = env ? strtoul(env, &slash, 10) : 0, tx = slash && *slash == '/' ? strtoul(slash + 1, NULL, 10) : 0;
	uint32_t set = vm_umem_set;

	if (set) {
		rx = set >> 16;
		tx = set & 0xffff;
	}
	if (is_underlay(x->cfg.mode)) {
		x->rx_frames = UMEM_RX_UNDERLAY;
		x->tx_frames = UMEM_TX_UNDERLAY;
	} else if (umem_side_ok(rx) && umem_side_ok(tx)) {
		x->rx_frames = (uint32_t)rx;
		x->tx_frames = (uint32_t)tx;
	} else {
		if (env && getenv("VFP_RUNNER_DEBUG"))
			fprintf(stderr, "vfp xsk: VFP_XSK_VM_UMEM=%s is not RX/TX (powers of two, 64 to %u): %u/%u\n", env,
				UMEM_SIDE_MAX, UMEM_RX_VM, UMEM_TX_VM);
		x->rx_frames = UMEM_RX_VM;
		x->tx_frames = UMEM_TX_VM;
	}
}

/* Not inherited across exec: a child holding the socket holds the queue it is bound to. */
static int cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);
	return fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) ? -1 : 0;
}

/* How long a queue a closed socket was bound to may stay busy (see vfp_xsk_open_socket). */
#define QUEUE_FREED_NS (200ull * 1000000ull)

int vfp_xsk_open_socket(struct vfp_xsk *x, char *err, uint32_t errlen)
{
	struct xsk_umem_config ucfg;
	struct xsk_socket_config scfg;
	int rc;
	uint32_t i, idx;

	size_umem(x);
	ucfg = (struct xsk_umem_config){ .fill_size = x->rx_frames, .comp_size = x->tx_frames, .frame_size = FRAME_SIZE,
					 .frame_headroom = 0, .flags = 0 };
	x->area = mmap(NULL, umem_bytes(x), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->area == MAP_FAILED) {
		x->area = NULL;
		errf(err, errlen, "mmap umem", errno);
		goto fail;
	}
	/* Not inherited by children: the kernel pins the UMEM, and a fork must copy pinned
	 * private pages at once (they cannot be shared copy-on-write), so every process vnetd
	 * spawns (ip, ovs-vsctl, ...) copied 16 MiB per port under the parent's mmap lock,
	 * stalling the runner long enough for the fill ring to run dry. */
	if (madvise(x->area, umem_bytes(x), MADV_DONTFORK)) {
		errf(err, errlen, "madvise umem", errno);
		goto fail;
	}
	/* Faulted in now, not as XDP_UMEM_REG pins them (the kernel clearing the pages): that
	 * registration runs between libxdp's socket() and cloexec() below, where a child forked
	 * meanwhile would keep the socket. Best effort (Linux 5.14+; the pin faults them in). */
	(void)madvise(x->area, umem_bytes(x), MADV_POPULATE_WRITE);
	rc = xsk_umem__create(&x->umem, x->area, umem_bytes(x), &x->fill, &x->comp, &ucfg);
	if (rc) {
		errf(err, errlen, "xsk_umem__create", rc);
		goto fail;
	}
	/* libxdp (1.3) opens the AF_XDP socket without SOCK_CLOEXEC: every process vnetd spawns
	 * while the port is open (a VM's server in a test, ip, ovs-vsctl) kept a descriptor of
	 * it for its whole life, and with it the socket, its binding and the queue: a runner
	 * started again on the interface found it busy (EBUSY) until that child ended (QA-91: a
	 * fast path turned off and on again stayed Unavailable). The first socket of a UMEM is
	 * the UMEM's own descriptor. A fork between libxdp's socket() and here still inherits
	 * it: the few syscalls of the rings' setup (the pages are in, above). */
	if (cloexec(xsk_umem__fd(x->umem))) {
		errf(err, errlen, "xsk umem: FD_CLOEXEC", errno);
		goto fail;
	}
	memset(&scfg, 0, sizeof(scfg));
	scfg.rx_size = x->rx_frames;
	scfg.tx_size = x->tx_frames;
	scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD; /* our own program, not libxdp's */
	scfg.xdp_flags = x->xdp_flags;
	scfg.bind_flags = XDP_COPY | XDP_USE_NEED_WAKEUP;
	/* A socket closed on this queue a moment ago (the port removed and added again, its flags
	 * changed) lets the queue go in the kernel's deferred work: busy until then. */
	for (uint64_t t0 = monotonic_ns();;) {
		rc = xsk_socket__create(&x->xsk, x->ifname, x->queue, x->umem, &x->rx, &x->tx, &scfg);
		if (rc != -EBUSY || monotonic_ns() - t0 > QUEUE_FREED_NS)
			break;
		usleep(1000);
	}
	if (rc) {
		errf(err, errlen, "xsk_socket__create", rc);
		goto fail;
	}
	if (cloexec(xsk_socket__fd(x->xsk))) { /* the UMEM's (done above), unless libxdp opened another */
		errf(err, errlen, "xsk socket: FD_CLOEXEC", errno);
		goto fail;
	}
	set_tx_budget(x);
	if (xsk_ring_prod__reserve(&x->fill, x->rx_frames, &idx) != x->rx_frames) {
		errf(err, errlen, "fill ring", ENOSPC);
		goto fail;
	}
	for (i = 0; i < x->rx_frames; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx++) = (uint64_t)i * FRAME_SIZE;
	xsk_ring_prod__submit(&x->fill, x->rx_frames);
	for (i = 0; i < x->tx_frames; i++)
		x->free_tx[x->n_free_tx++] = (uint64_t)(x->rx_frames + i) * FRAME_SIZE;
	return 0;
fail:
	return -1;
}

int vfp_xsk_map_socket(struct vfp_xsk *x, char *err, uint32_t errlen)
{
	int map = vfp_xsk_map_fd(x, "vfp_xsks");
	int rc = map < 0 ? map : xsk_socket__update_xskmap(x->xsk, map);

	if (rc)
		errf(err, errlen, "update vfp_xsks", rc);
	return rc;
}

int vfp_xsk_fd(const struct vfp_xsk *x) { return xsk_socket__fd(x->xsk); }

uint64_t vfp_xsk_umem_addr(const struct vfp_xsk *x) { return (uint64_t)(uintptr_t)x->area; }

static void reap(struct vfp_xsk *x)
{
	uint32_t idx, n = xsk_ring_cons__peek(&x->comp, x->tx_frames, &idx), i;
	for (i = 0; i < n; i++)
		x->free_tx[x->n_free_tx++] = *xsk_ring_cons__comp_addr(&x->comp, idx++);
	if (n)
		xsk_ring_cons__release(&x->comp, n);
}

/* Queue a copy of a frame on out's TX ring; 0 on success, -ENOBUFS when the ring or the
 * TX chunks are exhausted (the caller kicks and retries, or holds the frame). */
static int send_copy(struct vfp_xsk *out, const uint8_t *frame, uint32_t len)
{
	uint32_t idx;
	struct xdp_desc *d;
	uint64_t addr;

	if (!out->n_free_tx)
		reap(out);
	if (!out->n_free_tx || xsk_ring_prod__reserve(&out->tx, 1, &idx) != 1)
		return -ENOBUFS;
	addr = out->free_tx[--out->n_free_tx];
	memcpy(out->area + addr, frame, len);
	d = xsk_ring_prod__tx_desc(&out->tx, idx);
	d->addr = addr;
	d->len = len;
	d->options = 0;
	xsk_ring_prod__submit(&out->tx, 1);
	out->st[ST_TX]++;
	out->queued++;
	return 0;
}

/* Frames queued on TX that the kernel has not completed yet. */
static uint32_t outstanding(struct vfp_xsk *x)
{
	reap(x);
	return x->tx_frames - x->n_free_tx;
}

/* Copy mode transmits from sendto(), at most the socket's TX budget per call (32 before
 * Linux 6.17, the ring with set_tx_budget; it answers EAGAIN when more are queued),
 * completing them synchronously: call
 * it until nothing is outstanding or a call makes no progress (the device is busy: the
 * rest goes with the next flush). Nothing to do, no syscall. */
void vfp_xsk_flush(struct vfp_xsk *x)
{
	uint32_t left = outstanding(x), calls = 0;

	x->queued = 0;
	while (left && calls++ < x->tx_frames / 16) {
		if (xsk_ring_prod__needs_wakeup(&x->tx) &&
		    sendto(xsk_socket__fd(x->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != ENOBUFS &&
		    errno != EAGAIN && errno != EBUSY)
			break;
		uint32_t now = outstanding(x);
		if (now >= left)
			break; /* no progress: the device is busy */
		left = now;
	}
}

/* The outputs one vfp_xsk_rx_forward call queued frames on, kicked once at its end. Listed
 * as they are queued, not found by a scan of outs[]: port ids reach 65,279 and the runner
 * makes the call for each interface on every pass (a scan of every id made 1,000 NICs
 * forward a tenth of what 2 did). An output is listed when its queued count leaves 0: at
 * every call's start all are 0, since each call ends by kicking what it listed. */
struct kicks {
	struct vfp_xsk *o[BATCH];
	uint32_t n;
};

static void kick_listed(struct kicks *k)
{
	for (uint32_t i = 0; i < k->n; i++)
		if (k->o[i]->queued)
			vfp_xsk_flush(k->o[i]);
	k->n = 0;
}

/* Send a classified frame, kicking its output once when full; 0 when queued. */
static int send_or_kick(struct vfp_xsk *out, const uint8_t *frame, uint32_t len, struct kicks *k)
{
	if (send_copy(out, frame, len) != 0) {
		vfp_xsk_flush(out);
		if (send_copy(out, frame, len) != 0) {
			out->st[ST_TX_FULL]++;
			return -ENOBUFS;
		}
	}
	if (out->queued == 1) {
		if (k->n == BATCH)
			kick_listed(k);
		k->o[k->n++] = out;
	}
	return 0;
}

static void recycle(struct vfp_xsk *x, const uint64_t chunks[], uint32_t n)
{
	uint32_t i, fidx;
	if (!n)
		return;
	while (xsk_ring_prod__reserve(&x->fill, n, &fidx) != n)
		; /* cannot fail: we return at most what we took */
	for (i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&x->fill, fidx + i) = chunks[i];
	xsk_ring_prod__submit(&x->fill, n);
}

/* Send what an earlier call had to hold; 1 when nothing is left held. */
static int drain_pending(struct vfp_xsk *x, struct vfp_xsk *const outs[], uint32_t n_outs, struct kicks *k)
{
	uint64_t done[BATCH];
	uint32_t i, n_done = 0, kept = 0;

	for (i = 0; i < x->n_pend; i++) {
		struct vfp_xsk *out = x->pend[i].port < n_outs ? outs[x->pend[i].port] : NULL;
		/* A port removed meanwhile (outs[] cleared) drops its frames. */
		if (out && kept == 0 && send_or_kick(out, x->area + x->pend[i].off, x->pend[i].len, k) != 0) {
			x->pend[kept++] = x->pend[i];
			continue;
		}
		if (kept) {
			x->pend[kept++] = x->pend[i]; /* keep the order behind the first held frame */
			continue;
		}
		if (!out)
			x->st[ST_DROP]++;
		done[n_done++] = x->pend[i].chunk;
	}
	x->n_pend = kept;
	recycle(x, done, n_done);
	return kept == 0;
}

/* Give up on what is held: count it dropped and return its chunks to the fill ring. */
static void drop_pending(struct vfp_xsk *x)
{
	uint64_t chunks[BATCH];
	for (uint32_t i = 0; i < x->n_pend; i++)
		chunks[i] = x->pend[i].chunk;
	recycle(x, chunks, x->n_pend);
	x->st[ST_DROP] += x->n_pend;
	x->n_pend = 0;
}

uint32_t vfp_xsk_rx_forward(struct vfp_xsk *x, struct vfp_ctx *ctx, uint32_t in_port, struct vfp_xsk *const outs[],
			    uint32_t n_outs, uint32_t underlay_port, uint32_t slow_port, uint32_t budget)
{
	uint32_t offs[BATCH], lens[BATCH], done = 0;
	uint64_t chunks[BATCH];
	struct vfp_verdict v[BATCH];
	struct kicks k = { .n = 0 };

	if (x->n_pend && !drain_pending(x, outs, n_outs, &k)) {
		if (++x->pend_fails < PEND_MAX_FAILS) {
			kick_listed(&k);
			return 0; /* back-pressure: the output is still full, leave RX where it is */
		}
		drop_pending(x);
	}
	x->pend_fails = 0;
	while (done < budget && !x->n_pend) {
		uint32_t idx, n, i, n_free = 0, want = budget - done < BATCH ? budget - done : BATCH;
		n = xsk_ring_cons__peek(&x->rx, want, &idx);
		if (!n)
			break;
		for (i = 0; i < n; i++) {
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);
			offs[i] = (uint32_t)d->addr;
			lens[i] = d->len;
			chunks[i] = d->addr - d->addr % FRAME_SIZE;
		}
		xsk_ring_cons__release(&x->rx, n);
		vfp_forward_umem(ctx, in_port, x->area, FRAME_SIZE, offs, lens, n, v);
		for (i = 0; i < n; i++) {
			uint32_t port = v[i].kind == VFP_V_LOCAL ? v[i].port
					: v[i].kind == VFP_V_ENCAP ? underlay_port
					: v[i].kind == VFP_V_SLOW ? slow_port : UINT32_MAX;
			x->st[v[i].kind == VFP_V_SLOW ? ST_SLOW : ST_FAST]++;
			if (port < n_outs && outs[port] && lens[i] <= FRAME_SIZE) {
				if (x->n_pend || send_or_kick(outs[port], x->area + offs[i], lens[i], &k) != 0) {
					/* Output full even after a kick: hold this frame and the rest of the
					 * batch (in order) for the next call instead of dropping them. */
					x->pend[x->n_pend].chunk = chunks[i];
					x->pend[x->n_pend].off = offs[i];
					x->pend[x->n_pend].len = lens[i];
					x->pend[x->n_pend].port = port;
					x->n_pend++;
					continue;
				}
			} else {
				x->st[ST_DROP]++;
			}
			chunks[n_free++] = chunks[i]; /* sent (copied out) or dropped: back to the fill ring */
		}
		x->st[ST_RX] += n;
		done += n;
		recycle(x, chunks, n_free);
	}
	kick_listed(&k); /* one kick per output per call, for what this call queued */
	return done;
}

/* Frames held for a full output (while any are, the runner must not sleep on RX). */
uint32_t vfp_xsk_backlog(const struct vfp_xsk *x) { return x->n_pend; }

uint32_t vfp_xsk_stats(const struct vfp_xsk *x, uint64_t *out, uint32_t n)
{
	uint32_t i;
	if (n > ST_COUNT)
		n = ST_COUNT;
	for (i = 0; i < n; i++)
		out[i] = x->st[i];
	return n;
}
