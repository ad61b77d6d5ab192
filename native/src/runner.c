/*
 * A node's fast-path runner: one C thread per node that setns()s into the node's network
 * namespace, opens the AF_XDP ports there and runs the rx -> classify -> tx loop.
 *
 * Why a thread and not a child process: setns() changes only the calling thread, and
 * everything AF_XDP needs (if_nametoindex, the XDP attach over netlink, the AF_XDP
 * socket's bind) resolves interfaces in the netns of the thread that calls it; after
 * that the sockets, UMEMs and BPF map fds work from any thread. So the thread that
 * opens the ports in the namespace at start is the one that polls them, while the control
 * plane in Node's main thread keeps publishing tables into the same in-process RCU
 * datapath (no IPC, no serialised copy of the tables, one set of counters to read) and
 * updates the XDP filter maps through their fds. A child per node (`ip netns exec`)
 * would need its own copy of the tables kept in sync over a pipe, a second Node or C
 * program to ship, and would hide bpffs (ip netns exec remounts /sys).
 *
 * A port added or removed while it runs is opened or closed by the caller's thread, which
 * enters the namespace for that call only (in_netns): an open takes milliseconds (the maps,
 * the verifier, the XDP attach, pinning the UMEM), in which the runner thread used to forward
 * nothing.
 * The runner thread only takes the port in (the connections its program inherited first) or
 * lets it go, a few microseconds (vfp_runner_cmd_stats counts them).
 *
 * Any thread may call in (vnetd makes the calls that take milliseconds, start, stop, add and
 * remove, from a worker thread, so that its event loop goes on meanwhile): add and remove
 * are taken one at a time (call_mu), and the interface arrays, which only the runner thread
 * writes, are written under ifs_mu, which every other thread that reads them holds. The
 * runner thread reads them without it: the packet path takes no lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/if_xdp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "../include/vfp.h"
#include "xsk.h"

/* A hypervisor's VM NICs and its underlay NIC. Each costs its UMEM (VFP_XSK_VM_UMEM) and a
 * look at its RX ring per pass. */
#define MAX_RUNNER_IFS 4096u
#define BUDGET 256u
/* Empty passes (no frame on any RX ring) before the thread sleeps (epoll_wait): a short
 * busy wait keeps a steady stream from paying a sleep + wake-up per burst, the bound
 * keeps an idle runner from burning a core. VFP_RUNNER_SPIN overrides it (0: sleep
 * at once). */
#define SPIN_PASSES 64u

struct vfp_runner {
	struct vfp_ctx *ctx;
	char netns[256];
	int netns_fd; /* the namespace itself, opened at start: its name may go or be reused while it runs */
	char obj[1024];
	uint32_t skb_mode, underlay_port, n;
	struct vfp_runner_if ifs[MAX_RUNNER_IFS];
	struct vfp_xsk *x[MAX_RUNNER_IFS];
	struct vfp_xsk **outs; /* by port id, VFP_MAX_IFACES entries */
	struct vfp_xsk_shared shared; /* the filter maps every VM NIC's program takes */
	/* close_all's copies (the thread's stack would need them at every size) */
	struct vfp_xsk *closing[MAX_RUNNER_IFS];
	char closing_names[MAX_RUNNER_IFS][16];
	uint32_t n_outs;        /* highest port id in use + 1 */
	struct runner_cmd *cmd; /* an add/remove for the thread (the caller waits) */
	atomic_int cmd_pending;
	pthread_t thread;
	pthread_mutex_t mu;     /* cmd's hand-over and state (with cv) */
	pthread_cond_t cv;
	pthread_mutex_t call_mu; /* one add or remove at a time, and none once stopping */
	pthread_mutex_t ifs_mu;  /* n, ifs, x, outs: written under it (runner thread), read under it elsewhere */
	int state; /* 0 starting, 1 running, -1 failed */
	char err[512];
	atomic_int stop;
	int keep_programs; /* set before stop: leave the XDP programs attached, held (vfp_runner_release) */
	_Atomic uint64_t loops;
	/* Counters written by one thread and read by any (relaxed: each is a figure of its own). */
	_Atomic uint64_t cmd_ns, cmds; /* the runner thread's time in add/remove commands, and their number */
	_Atomic uint64_t wait_ns;      /* the callers' time waiting for their commands to be taken up and done */
	_Atomic uint64_t wakes;        /* idle waits a command's eventfd write ended (a test's proof of the wake-up) */
	int wake_fd;           /* an eventfd in the idle wait: a command wakes the thread at once (-1: none) */
	/* The idle wait: the sockets and wake_fd, registered once. poll() over 1,000 sockets
	 * registered with each at every sleep and drove each one's copy-mode TX (xsk_poll): the
	 * thread's wake-ups, one per port added, cost O(ports). */
	int ep;
	uint64_t held_at; /* when the programs' holds were last pushed forward */
	_Atomic uint64_t adopted, not_adopted; /* connections of an earlier process taken over, or let go */
};

struct runner_cmd {
	int op; /* 1 take in x (opened by the caller), 2 let go of the port (x: the caller closes it) */
	struct vfp_runner_if ifc;
	struct vfp_xsk *x;
	int rc;
	int done;
};

/* Adds fd to the idle wait, or takes it out. */
static int watch(const struct vfp_runner *r, int fd, int add)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	return epoll_ctl(r->ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev) ? -errno : 0;
}

static void fail(struct vfp_runner *r, const char *fmt, const char *a, int e)
{
	snprintf(r->err, sizeof(r->err), fmt, a, strerror(e));
}

/* Runs on the runner thread as it ends: the ports leave the arrays under ifs_mu (a reader on
 * another thread finds none), then are closed outside it (milliseconds each). */
static void close_all(struct vfp_runner *r, int keep_programs)
{
	struct vfp_xsk **x = r->closing;
	char(*names)[16] = r->closing_names;
	uint32_t n;

	pthread_mutex_lock(&r->ifs_mu);
	n = r->n;
	for (uint32_t i = 0; i < n; i++) {
		x[i] = r->x[i];
		memcpy(names[i], r->ifs[i].name, sizeof(names[i]));
		r->x[i] = NULL;
		if (r->ifs[i].port < VFP_MAX_IFACES)
			r->outs[r->ifs[i].port] = NULL;
	}
	r->n = 0;
	pthread_mutex_unlock(&r->ifs_mu);
	for (uint32_t i = 0; i < n; i++) {
		struct xdp_statistics xs;
		socklen_t len = sizeof(xs);
		/* VFP_RUNNER_DEBUG: the kernel's own drop counters of each socket, at stop. */
		if (x[i] && getenv("VFP_RUNNER_DEBUG") && !getsockopt(vfp_xsk_fd(x[i]), SOL_XDP, XDP_STATISTICS, &xs, &len))
			fprintf(stderr, "vfp-runner %s: rx_dropped %llu rx_invalid %llu tx_invalid %llu rx_ring_full %llu fill_empty %llu tx_ring_empty %llu\n",
				names[i], (unsigned long long)xs.rx_dropped, (unsigned long long)xs.rx_invalid_descs,
				(unsigned long long)xs.tx_invalid_descs, (unsigned long long)xs.rx_ring_full,
				(unsigned long long)xs.rx_fill_ring_empty_descs, (unsigned long long)xs.tx_ring_empty_descs);
		vfp_xsk_close_keep(x[i], keep_programs);
	}
}

struct inherited_conn {
	uint32_t i; /* index of the interface whose map holds it */
	struct vfp_conn_key k;
	struct vfp_conn_val v;
};

/* Takes over the connection of key c (vfp_conn_adopt: 0), or counts it let go and withdraws
 * that key (a negative errno). */
static int take_over(struct vfp_runner *r, const struct inherited_conn *c)
{
	int rc = vfp_conn_adopt(r->ctx, r->ifs[c->i].port, &c->k, &c->v);
	if (!rc) {
		atomic_fetch_add_explicit(&r->adopted, 1, memory_order_relaxed);
		return 0;
	}
	atomic_fetch_add_explicit(&r->not_adopted, 1, memory_order_relaxed);
	bpf_map_delete_elem(vfp_xsk_map_fd(r->x[c->i], "vfp_conn"), &c->k);
	return rc;
}

/*
 * Connections an earlier process published in the vfp_conn maps that the programs of
 * interfaces [from, r->n) inherited (xsk.c): each forward key is taken over
 * (vfp_conn_adopt: the same backend, both keys published again); every key no
 * connection of this context owns afterwards is withdrawn, so its packets go to OVS as
 * before. Runs on the runner thread before the sockets are in their programs' vfp_xsks:
 * the first packet a socket takes already finds its connection.
 */
static void adopt_conns(struct vfp_runner *r, uint32_t from)
{
	struct inherited_conn *all = NULL, *grown;
	size_t n = 0, cap = 0, j;

	for (uint32_t i = from; i < r->n; i++) {
		struct vfp_conn_key k, next;
		int fd = vfp_xsk_conn_inherited(r->x[i]) ? vfp_xsk_map_fd(r->x[i], "vfp_conn") : -1;
		const void *prev = NULL;
		if (fd < 0)
			continue;
		while (!bpf_map_get_next_key(fd, prev, &next)) {
			k = next;
			prev = &k;
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				if (!(grown = realloc(all, cap * sizeof(*all))))
					break;
				all = grown;
			}
			all[n].i = i;
			all[n].k = k;
			if (!bpf_map_lookup_elem(fd, &k, &all[n].v))
				n++;
		}
	}
	/* Forward keys (on the client's NIC): taken over, or withdrawn with their reverse key,
	 * wherever that was published (any open interface: a local backend's NIC, or the
	 * underlay, where it names the VNI of the client's network). A NIC opened later may have
	 * it: this runs for that NIC's keys alone then. */
	for (j = 0; j < n; j++) {
		struct vfp_conn_key rk;
		uint32_t vni;
		if (all[j].v.reverse || (all[j].v.flags & VFP_CONN_PASS))
			continue;
		if (!take_over(r, &all[j]))
			continue;
		vni = vfp_conn_port_vni(r->ctx, r->ifs[all[j].i].port);
		rk = all[j].k;
		rk.saddr = all[j].v.nat_addr;
		rk.daddr = all[j].k.saddr;
		rk.sport = all[j].v.nat_port;
		rk.dport = all[j].k.sport;
		for (uint32_t i = 0; i < r->n; i++) {
			if (!r->x[i])
				continue;
			vfp_conn_key_set_vni(&rk, r->ifs[i].port == r->underlay_port ? vni : 0);
			bpf_map_delete_elem(vfp_xsk_map_fd(r->x[i], "vfp_conn"), &rk);
		}
	}
	/* Reverse keys (the backend's NIC, or the underlay) that no connection of this context
	 * owns there go: a key nobody owns sends its frames to a runner that drops them. One
	 * whose client NIC opens later is published again when that connection is taken over
	 * (vfp_conn_adopt publishes both keys). */
	for (j = 0; j < n; j++) {
		uint32_t port = r->ifs[all[j].i].port;
		if (!all[j].v.reverse || (all[j].v.flags & VFP_CONN_PASS))
			continue;
		if (port == r->underlay_port)
			port = VFP_PORT_VIA_UNDERLAY;
		if (!vfp_conn_owns(r->ctx, port, &all[j].k, VFP_OWNS_REVERSE))
			bpf_map_delete_elem(vfp_xsk_map_fd(r->x[all[j].i], "vfp_conn"), &all[j].k);
	}
	/* Passthrough connections (conn.h): taken over from their backend's key (the backend's
	 * NIC must be open for its key to be published again); what is not taken over goes, its
	 * frames to OVS, which switches them as well (a backend's NIC that opens later publishes
	 * its client's key again when its own key is taken over). */
	for (j = 0; j < n; j++) {
		if (all[j].v.reverse && (all[j].v.flags & VFP_CONN_PASS))
			take_over(r, &all[j]);
	}
	for (j = 0; j < n; j++) {
		uint32_t port = r->ifs[all[j].i].port;
		if (all[j].v.reverse || !(all[j].v.flags & VFP_CONN_PASS) || port != r->underlay_port)
			continue;
		if (!vfp_conn_owns(r->ctx, VFP_PORT_VIA_UNDERLAY, &all[j].k, VFP_OWNS_PASS))
			bpf_map_delete_elem(vfp_xsk_map_fd(r->x[all[j].i], "vfp_conn"), &all[j].k);
	}
	free(all);
}

/* Pushes every program's hold forward (once a second): were this process to die now, the
 * connections it owns would be held for the next one (see bpf/xdp_redirect.c, vfp_cfg). */
static void hold_first(struct vfp_runner *r, uint32_t n, int now)
{
	uint64_t t = vfp_xsk_now_ns();
	if (!now && t - r->held_at < 1000000000ull)
		return;
	r->held_at = t;
	for (uint32_t i = 0; i < n; i++)
		vfp_xsk_hold(r->x[i], t + VFP_CONN_HOLD_NS);
}

static void hold(struct vfp_runner *r, int now) { hold_first(r, r->n, now); }

static int open_all(struct vfp_runner *r)
{
	if (r->netns_fd >= 0 && setns(r->netns_fd, CLONE_NEWNET)) {
		fail(r, "setns %s: %s", r->netns, errno);
		return -1;
	}
	/* Every program first, then the connections they inherited, then the sockets. */
	for (uint32_t i = 0; i < r->n; i++) {
		char e[256] = "";
		/* 20-30 ms a program: at 1,500 NICs the first ones' holds (30 s) would lapse here already. */
		hold_first(r, i, 0);
		r->x[i] = vfp_xsk_open_program(r->ifs[i].name, 0, r->obj, r->ifs[i].mode, r->ifs[i].flags, r->skb_mode,
					       &r->shared, e, sizeof(e));
		if (!r->x[i]) {
			snprintf(r->err, sizeof(r->err), "%s: %s", r->ifs[i].name, e);
			return -1;
		}
	}
	adopt_conns(r, 0);
	for (uint32_t i = 0; i < r->n; i++) {
		char e[256] = "";
		/* A socket opens in 5-60 ms (the kernel clears its UMEM's pages as it pins them): the
		 * programs loaded first would let their hold lapse before a thousand sockets opened,
		 * and the connections they hold for this runner go to OVS, which resets them. */
		hold(r, 0);
		if (vfp_xsk_open_socket(r->x[i], e, sizeof(e)) || vfp_xsk_map_socket(r->x[i], e, sizeof(e))) {
			snprintf(r->err, sizeof(r->err), "%s: %s", r->ifs[i].name, e);
			return -1;
		}
		if (watch(r, vfp_xsk_fd(r->x[i]), 1)) {
			fail(r, "%s: epoll_ctl: %s", r->ifs[i].name, errno);
			return -1;
		}
		r->outs[r->ifs[i].port] = r->x[i];
	}
	return 0;
}

static void set_n_outs(struct vfp_runner *r)
{
	uint32_t m = r->underlay_port;
	for (uint32_t i = 0; i < r->n; i++)
		if (r->ifs[i].port > m)
			m = r->ifs[i].port;
	r->n_outs = m + 1;
}

/* Runs on the runner thread: interfaces come and go without a restart, opened and closed by
 * the caller (vfp_runner_add, vfp_runner_remove), so that this thread keeps forwarding. */
static void do_cmd(struct vfp_runner *r)
{
	struct runner_cmd *c = r->cmd;
	uint32_t port = c->ifc.port, i;
	uint64_t t0 = vfp_xsk_now_ns();

	c->rc = 0;
	pthread_mutex_lock(&r->ifs_mu);
	if (c->op == 1) {
		if (r->n >= MAX_RUNNER_IFS || port >= VFP_MAX_IFACES || r->outs[port]) {
			snprintf(r->err, sizeof(r->err), "%s: port %u in use or too many interfaces", c->ifc.name, port);
			c->rc = -EEXIST;
		} else {
			char e[256] = "";
			r->ifs[r->n] = c->ifc;
			r->x[r->n] = c->x;
			r->n++;
			adopt_conns(r, r->n - 1);
			if ((c->rc = watch(r, vfp_xsk_fd(c->x), 1))) {
				snprintf(r->err, sizeof(r->err), "%s: epoll_ctl: %s", c->ifc.name, strerror(-c->rc));
				r->n--;
				r->x[r->n] = NULL;
			} else if (vfp_xsk_map_socket(c->x, e, sizeof(e))) {
				snprintf(r->err, sizeof(r->err), "%s: %s", c->ifc.name, e);
				c->rc = -EIO;
				watch(r, vfp_xsk_fd(c->x), 0);
				r->n--;
				r->x[r->n] = NULL;
			} else {
				r->outs[port] = c->x;
				/* Its own hold only: the loop pushes the others' once a second (all of them
				 * here cost a map write per port per add, 3-4 ms at 1,000 NICs). */
				vfp_xsk_hold(c->x, vfp_xsk_now_ns() + VFP_CONN_HOLD_NS);
			}
		}
	} else {
		for (i = 0; i < r->n && r->ifs[i].port != port; i++)
			;
		if (i == r->n) {
			c->rc = -ENOENT;
		} else {
			r->outs[port] = NULL;
			c->x = r->x[i];
			watch(r, vfp_xsk_fd(c->x), 0); /* before the caller closes it */
			r->n--;
			r->ifs[i] = r->ifs[r->n];
			r->x[i] = r->x[r->n];
			r->x[r->n] = NULL;
		}
	}
	set_n_outs(r);
	pthread_mutex_unlock(&r->ifs_mu);
	atomic_fetch_add_explicit(&r->cmd_ns, vfp_xsk_now_ns() - t0, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->cmds, 1, memory_order_relaxed);
	pthread_mutex_lock(&r->mu);
	c->done = 1;
	atomic_store(&r->cmd_pending, 0);
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* Hands the runner thread a command and waits for it; *x carries the port in or out. */
static int command(struct vfp_runner *r, int op, const struct vfp_runner_if *ifc, struct vfp_xsk **x, char *err,
		   uint32_t errlen)
{
	struct runner_cmd c = { .op = op, .ifc = *ifc, .x = *x };
	uint64_t t0 = vfp_xsk_now_ns(), one = 1;

	pthread_mutex_lock(&r->mu);
	r->cmd = &c;
	atomic_store(&r->cmd_pending, 1);
	/* An idle runner sleeps up to 20 ms: wake it (a failed write only waits for that). */
	if (r->wake_fd >= 0 && write(r->wake_fd, &one, sizeof(one)) < 0)
		one = 0;
	while (!c.done)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
	atomic_fetch_add_explicit(&r->wait_ns, vfp_xsk_now_ns() - t0, memory_order_relaxed);
	*x = c.x;
	if (c.rc && err && errlen)
		snprintf(err, errlen, "%s", r->err);
	return c.rc;
}

/*
 * Runs on the calling thread inside the runner's network namespace (setns changes only the
 * calling thread), then takes the thread back to its own: what resolves interfaces (the
 * ifindex, the XDP attach and detach, the socket's bind) must see the node's. A thread that
 * could not get back would go on in the wrong namespace, so that aborts.
 */
static int in_netns(const struct vfp_runner *r, int (*fn)(void *), void *arg, char *err, uint32_t errlen)
{
	int home, rc;

	if (r->netns_fd < 0)
		return fn(arg);
	home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0) {
		snprintf(err, errlen, "open this thread's netns: %s", strerror(errno));
		return -EIO;
	}
	if (setns(r->netns_fd, CLONE_NEWNET)) {
		snprintf(err, errlen, "enter netns %s: %s", r->netns, strerror(errno));
		close(home);
		return -EIO;
	}
	rc = fn(arg);
	if (setns(home, CLONE_NEWNET)) {
		fprintf(stderr, "vfp-runner: cannot return to this thread's network namespace: %s\n", strerror(errno));
		abort();
	}
	close(home);
	return rc;
}

struct open_args {
	const struct vfp_runner *r;
	const struct vfp_runner_if *ifc;
	struct vfp_xsk *x;
	char *err;
	uint32_t errlen;
};

static int open_port(void *arg)
{
	struct open_args *a = arg;
	char e[256] = "";

	/* Not in vfp_xsks yet: the runner thread puts it there once it has taken over the
	 * connections the program inherited (do_cmd). */
	a->x = vfp_xsk_open_program(a->ifc->name, 0, a->r->obj, a->ifc->mode, a->ifc->flags, a->r->skb_mode, &a->r->shared,
				    e, sizeof(e));
	if (a->x && vfp_xsk_open_socket(a->x, e, sizeof(e))) {
		vfp_xsk_close(a->x);
		a->x = NULL;
	}
	if (!a->x) {
		snprintf(a->err, a->errlen, "%s: %s", a->ifc->name, e);
		return -EIO;
	}
	return 0;
}

static int close_port(void *arg)
{
	vfp_xsk_close(arg);
	return 0;
}

/* Closes a port the runner thread let go of, inside the namespace. Not in it (it is gone):
 * detaching there would name another interface by its ifindex, so the program stays (with its
 * interface, if any) and the rest is freed. */
static void close_in_netns(const struct vfp_runner *r, struct vfp_xsk *x)
{
	char e[512];

	if (in_netns(r, close_port, x, e, sizeof(e)))
		vfp_xsk_close_keep(x, 1);
}

/* Whether an interface of that name or port is open (r->ifs_mu held, or the runner thread). */
static int is_open(const struct vfp_runner *r, const struct vfp_runner_if *ifc)
{
	for (uint32_t i = 0; i < r->n; i++)
		if (!strcmp(r->ifs[i].name, ifc->name) || r->ifs[i].port == ifc->port)
			return 1;
	return 0;
}

static int add_locked(struct vfp_runner *r, const struct vfp_runner_if *ifc, char *err, uint32_t errlen)
{
	char e[512] = "";
	struct open_args a = { .r = r, .ifc = ifc, .err = e, .errlen = sizeof(e) };
	uint32_t n;
	int rc, open;

	pthread_mutex_lock(&r->ifs_mu);
	open = is_open(r, ifc);
	n = r->n;
	pthread_mutex_unlock(&r->ifs_mu);
	/* An interface open already must not get a second program attached. (Only this caller's
	 * command changes the arrays until call_mu is let go: the check holds until then.) */
	if (open) {
		snprintf(err, errlen, "%s: interface or port %u open already", ifc->name, ifc->port);
		return -EEXIST;
	}
	if (ifc->port >= VFP_MAX_IFACES || n >= MAX_RUNNER_IFS) {
		snprintf(err, errlen, "%s: port %u out of range, or %u interfaces already", ifc->name, ifc->port, n);
		return -EINVAL;
	}
	rc = in_netns(r, open_port, &a, e, sizeof(e));
	if (rc) {
		snprintf(err, errlen, "%s", e);
		return rc;
	}
	rc = command(r, 1, ifc, &a.x, err, errlen);
	if (rc)
		close_in_netns(r, a.x);
	return rc;
}

int vfp_runner_add(struct vfp_runner *r, const struct vfp_runner_if *ifc, char *err, uint32_t errlen)
{
	int rc;

	if (!memchr(ifc->name, 0, sizeof(ifc->name)))
		return -EINVAL;
	pthread_mutex_lock(&r->call_mu);
	rc = add_locked(r, ifc, err, errlen);
	pthread_mutex_unlock(&r->call_mu);
	return rc;
}

int vfp_runner_remove(struct vfp_runner *r, uint32_t port)
{
	struct vfp_runner_if ifc = { .port = port };
	struct vfp_xsk *x = NULL;
	int rc;

	pthread_mutex_lock(&r->call_mu);
	rc = command(r, 2, &ifc, &x, NULL, 0);
	if (!rc)
		close_in_netns(r, x);
	pthread_mutex_unlock(&r->call_mu);
	return rc;
}

uint32_t vfp_runner_cmd_stats(const struct vfp_runner *r, uint64_t *out, uint32_t n)
{
	uint64_t v[4] = { atomic_load_explicit(&r->cmd_ns, memory_order_relaxed), atomic_load_explicit(&r->cmds, memory_order_relaxed),
			  atomic_load_explicit(&r->wait_ns, memory_order_relaxed), atomic_load_explicit(&r->wakes, memory_order_relaxed) };
	uint32_t i;

	for (i = 0; i < n && i < 4; i++)
		out[i] = v[i];
	return i;
}

/* The runner thread's view; any other thread holds r->ifs_mu. */
static int index_of(const struct vfp_runner *r, uint32_t port)
{
	for (uint32_t i = 0; i < r->n; i++)
		if (r->ifs[i].port == port)
			return (int)i;
	return -1;
}

static void *run(void *arg)
{
	struct vfp_runner *r = arg;
	int ok = open_all(r) == 0;
	const char *spin_env = getenv("VFP_RUNNER_SPIN");
	uint32_t spin = spin_env ? (uint32_t)strtoul(spin_env, NULL, 10) : SPIN_PASSES, idle = 0;

	pthread_mutex_lock(&r->mu);
	r->state = ok ? 1 : -1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (!ok) {
		close_all(r, 0);
		return NULL;
	}
	hold(r, 1);
	while (!atomic_load(&r->stop)) {
		uint32_t got = 0, held = 0;
		if (atomic_load(&r->cmd_pending))
			do_cmd(r);
		for (uint32_t i = 0; i < r->n; i++)
			got += vfp_xsk_rx_forward(r->x[i], r->ctx, r->ifs[i].port, r->outs, r->n_outs, r->underlay_port,
						  UINT32_MAX, BUDGET);
		for (uint32_t i = 0; i < r->n; i++) {
			vfp_xsk_flush(r->x[i]); /* what an earlier pass could not hand over (no syscall if nothing) */
			held += vfp_xsk_backlog(r->x[i]);
		}
		atomic_fetch_add_explicit(&r->loops, 1, memory_order_relaxed);
		hold(r, 0);
		if (got) {
			idle = 0;
		} else if (held) {
			sched_yield(); /* an output is full: let the kernel's receive side drain it */
		} else if (++idle > spin) {
			/* idle: sleep until a frame or a command arrives (or re-check stop) */
			struct epoll_event ev[16];
			int ready = epoll_wait(r->ep, ev, 16, 20), frames = 0;
			for (int k = 0; k < ready; k++) {
				uint64_t woken;
				if (ev[k].data.fd != r->wake_fd)
					frames = 1;
				/* Read what woke it (a command may have been taken up before its write
				 * came): an eventfd left readable would end every later wait at once. */
				else if (read(r->wake_fd, &woken, sizeof(woken)) < 0)
					woken = 0; /* EAGAIN: read already */
				else
					atomic_fetch_add_explicit(&r->wakes, 1, memory_order_relaxed);
			}
			/* Only frames are worth the busy wait. After a command or the timeout, one empty
			 * pass and back to sleep: each spin pass looks at every RX ring, and at 1,000 NICs
			 * the passes after every port's add (and every 20 ms while idle) were a fifth of a
			 * burst of adds' CPU. */
			idle = frames ? 0 : spin;
		}
	}
	close_all(r, r->keep_programs);
	return NULL;
}

static int conn_publish(void *arg, uint32_t port, const struct vfp_conn_key *key, const struct vfp_conn_val *val,
			int add);

static void free_runner(struct vfp_runner *r)
{
	if (r->netns_fd >= 0)
		close(r->netns_fd);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	if (r->ep >= 0)
		close(r->ep);
	vfp_xsk_shared_close(&r->shared);
	free(r->outs);
	free(r);
}

struct vfp_runner *vfp_runner_start(struct vfp_ctx *ctx, const char *netns, const struct vfp_runner_if ifs[], uint32_t n,
				    const char *obj_path, uint32_t skb_mode, uint32_t underlay_port, char *err,
				    uint32_t errlen)
{
	struct vfp_runner *r;
	uint32_t max_port = underlay_port;

	if (!n || n > MAX_RUNNER_IFS || strlen(netns) >= sizeof(r->netns) || strlen(obj_path) >= sizeof(r->obj)) {
		snprintf(err, errlen, "runner: bad arguments (%u interfaces)", n);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (ifs[i].port >= VFP_MAX_IFACES || !memchr(ifs[i].name, 0, sizeof(ifs[i].name))) {
			snprintf(err, errlen, "runner: interface %u: port id >= %u or name not terminated", i, VFP_MAX_IFACES);
			return NULL;
		}
		if (ifs[i].port > max_port)
			max_port = ifs[i].port;
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->outs = calloc(VFP_MAX_IFACES, sizeof(*r->outs)))) {
		free(r);
		snprintf(err, errlen, "runner: out of memory");
		return NULL;
	}
	r->n_outs = max_port + 1;
	r->ctx = ctx;
	r->shared.dst = r->shared.vipaddr = -1;
	strcpy(r->netns, netns);
	r->ep = -1; /* before any free_runner: descriptor 0 is not ours to close */
	r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->netns_fd = netns[0] ? open(netns, O_RDONLY | O_CLOEXEC) : -1;
	if (netns[0] && r->netns_fd < 0) {
		snprintf(err, errlen, "open netns %s: %s", netns, strerror(errno));
		free_runner(r);
		return NULL;
	}
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	if (r->ep < 0 || (r->wake_fd >= 0 && watch(r, r->wake_fd, 1))) {
		snprintf(err, errlen, "runner: epoll: %s", strerror(errno));
		free_runner(r);
		return NULL;
	}
	if (vfp_xsk_shared_create(&r->shared, err, errlen)) {
		free_runner(r);
		return NULL;
	}
	strcpy(r->obj, obj_path);
	r->skb_mode = skb_mode;
	r->underlay_port = underlay_port;
	r->n = n;
	memcpy(r->ifs, ifs, n * sizeof(*ifs));
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	pthread_mutex_init(&r->call_mu, NULL);
	pthread_mutex_init(&r->ifs_mu, NULL);
	/* Before the thread opens the ports: the connections it takes over are published again. */
	vfp_ctx_set_conn_hook(ctx, conn_publish, r);
	if (pthread_create(&r->thread, NULL, run, r) == 0) {
		pthread_setname_np(r->thread, "vfp-runner");
	} else {
		snprintf(err, errlen, "runner: pthread_create: %s", strerror(errno));
		vfp_ctx_set_conn_hook(ctx, NULL, NULL);
		free_runner(r);
		return NULL;
	}
	pthread_mutex_lock(&r->mu);
	while (!r->state)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
	if (r->state < 0) {
		pthread_join(r->thread, NULL);
		snprintf(err, errlen, "%s", r->err);
		vfp_ctx_set_conn_hook(ctx, NULL, NULL);
		free_runner(r);
		return NULL;
	}
	return r;
}

void vfp_runner_release(struct vfp_runner *r)
{
	if (!r)
		return;
	r->keep_programs = 1;
	vfp_runner_stop(r);
}

void vfp_runner_stop(struct vfp_runner *r)
{
	if (!r)
		return;
	/* After an add or remove under way (its command needs the thread running). */
	pthread_mutex_lock(&r->call_mu);
	atomic_store(&r->stop, 1);
	pthread_join(r->thread, NULL);
	pthread_mutex_unlock(&r->call_mu);
	vfp_ctx_set_conn_hook(r->ctx, NULL, NULL);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->call_mu);
	pthread_mutex_destroy(&r->ifs_mu);
	free_runner(r);
}

/* The filter maps by number (src/fastpath/node-tables.ts FilterMap); NULL: not an interface's own. */
static const char *const MAPS[] = { NULL, "vfp_src", "vfp_inner", "vfp_vip", "vfp_src6", "vfp_target", "vfp_lbnet", NULL, NULL };
enum { MAP_DST = 0, MAP_VIPADDR = 7, MAP_NET = 8 };

/* Map MAP_NET: a VM NIC's network tag and own MAC (key: u32 host order, 6 bytes, 2 pad). Taking
 * it away leaves a tag and MAC that another key set since in place. */
static int set_net(struct vfp_xsk *x, const uint8_t *key, uint32_t add)
{
	uint32_t net;

	memcpy(&net, key, 4);
	return add ? vfp_xsk_set_net(x, net, key + 4) : vfp_xsk_clear_net(x, net, key + 4);
}

/* Inserts (add) or deletes key in a map; a key already gone is not an error. */
static int map_put(int fd, const void *key, const void *val, uint32_t add)
{
	if (add)
		return bpf_map_update_elem(fd, key, val, BPF_ANY) ? -errno : 0;
	if (bpf_map_delete_elem(fd, key) && errno != ENOENT)
		return -errno;
	return 0;
}

int vfp_runner_filter(struct vfp_runner *r, uint32_t port, uint32_t map, const uint8_t *key, uint32_t add)
{
	uint8_t one = 1;
	int fd, i, rc;

	if (map >= sizeof(MAPS) / sizeof(MAPS[0]))
		return -EINVAL;
	if (map == MAP_DST || map == MAP_VIPADDR) /* the node's, whatever the port */
		return map_put(map == MAP_DST ? r->shared.dst : r->shared.vipaddr, key, &one, add);
	pthread_mutex_lock(&r->ifs_mu);
	i = index_of(r, port);
	if (i >= 0 && map == MAP_NET) {
		rc = set_net(r->x[i], key, add);
	} else {
		fd = i < 0 ? -EINVAL : vfp_xsk_map_fd(r->x[i], MAPS[map]);
		rc = fd < 0 ? fd : map_put(fd, key, &one, add);
	}
	pthread_mutex_unlock(&r->ifs_mu);
	return rc;
}

/* Conntrack VIP keys from the classifier (runner thread, before the frame is sent): into
 * the vfp_conn map of the interface that sees that direction. */
static int conn_publish(void *arg, uint32_t port, const struct vfp_conn_key *key, const struct vfp_conn_val *val,
			int add)
{
	struct vfp_runner *r = arg;
	int fd, i = index_of(r, port == VFP_PORT_VIA_UNDERLAY ? r->underlay_port : port);

	if (i < 0 || !r->x[i] || (fd = vfp_xsk_map_fd(r->x[i], "vfp_conn")) < 0)
		return -ENOENT;
	return map_put(fd, key, val, (uint32_t)add);
}

uint32_t vfp_runner_adopted(const struct vfp_runner *r, uint64_t *out, uint32_t n)
{
	if (n < 2)
		return 0;
	out[0] = atomic_load_explicit(&r->adopted, memory_order_relaxed);
	out[1] = atomic_load_explicit(&r->not_adopted, memory_order_relaxed);
	return 2;
}

uint32_t vfp_runner_stats(struct vfp_runner *r, uint32_t port, uint64_t *out, uint32_t n)
{
	uint32_t k = 0;
	int i;

	pthread_mutex_lock(&r->ifs_mu);
	i = index_of(r, port);
	if (i >= 0) {
		k = vfp_xsk_stats(r->x[i], out, n < 6 ? n : 6);
		if (n > 6)
			out[k++] = atomic_load(&r->loops);
	}
	pthread_mutex_unlock(&r->ifs_mu);
	return k;
}
