/*
 * vnetd fast path (libvnetfp): the public C API that src/fastpath binds with koffi.
 *
 * Only fixed-size structs and plain integers cross this boundary so the TypeScript
 * side can describe them with koffi without any glue code. IPv4 addresses are host
 * order uint32 (what JS produces naturally); 16-byte addresses are network order,
 * with IPv4 written IPv4-mapped (::ffff:a.b.c.d) so one key type covers both families.
 */
#ifndef VFP_H
#define VFP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VFP_MAGLEV_M 65537u /* prime ring size: every skip visits every slot */
/* Port ids are OpenFlow port numbers, which OVS keeps below OFPP_MAX (0xff00) and does not
 * reuse at once: a hypervisor whose VMs come and go reaches the thousands. */
#define VFP_MAX_IFACES 0xff00u
#define VFP_MAX_READERS 64u  /* classify contexts per datapath (RCU reader slots) */

/* Verdict kinds. */
enum vfp_kind {
	VFP_V_SLOW = 0,  /* hand to the slow path (OVS) unchanged */
	VFP_V_LOCAL = 1, /* deliver to local port `port` (after decap when inner_off > 0) */
	VFP_V_ENCAP = 2, /* encapsulate toward VTEP `port` (ip in addr), VNI `vni` */
	VFP_V_VIP = 3,   /* rewrite destination to backend `port` (addr, l4port) */
};

/* Why a frame went to the slow path (verdict.reason when kind == VFP_V_SLOW). */
enum vfp_reason {
	VFP_R_NONE = 0,
	VFP_R_MALFORMED = 1,
	VFP_R_PORT_MISS = 2,
	VFP_R_MAC_MISS = 3,
	VFP_R_ARP = 4,
	VFP_R_BCAST = 5, /* broadcast or multicast destination */
	VFP_R_VNI_MISS = 6,
	VFP_R_VIP_FRAG = 7, /* a fragment toward a VIP of no connection the fast path has (OVS deals the datagram
			     * whole; a later fragment has no ports to hash) */
	VFP_R_VIP_EMPTY = 8, /* VIP without usable backends */
	VFP_R_UNDERLAY = 9, /* underlay frame that is not our tunnel traffic */
	VFP_R_NO_HEADROOM = 10, /* forward: no room to encapsulate (counted as a drop) */
	VFP_R_VIP_NOT_OURS = 11, /* conntrack VIP: a packet of a connection the fast path did not see from its
				  * first packet (or whose backend left the VIP): OVS's conntrack owns it */
	VFP_R_VIP_HAIRPIN = 12, /* conntrack VIP: a SYN dealt to its own sender, which OVS also SNATs to the VIP */
	VFP_R_ROUTER_GUARD = 13, /* a VM's router advertisement, ICMPv6 redirect or DHCP server reply: OVS's
				  * port security drops it from a port that has port security */
};

enum vfp_encap { VFP_ENCAP_VXLAN = 0, VFP_ENCAP_GENEVE = 1 };

/* Port flags. */
#define VFP_PORT_UNDERLAY 1u /* frames arriving here are decapsulated */
/* A VM port of a network with load balancers (OVS runs its IP through conntrack): a tunnel
 * frame reaches its runner only for a connection (conn.h), and one toward a local backend's
 * listener opens a passthrough connection (VFP_C_CONN_PASS). */
#define VFP_PORT_CONNTRACK 2u

/* 36 bytes; layout mirrored in src/fastpath/fastpath.ts (FrameBatch.verdict). */
struct vfp_verdict {
	uint8_t kind;      /* enum vfp_kind */
	uint8_t reason;    /* enum vfp_reason, or parse error in `err` */
	uint8_t encap;     /* enum vfp_encap for ENCAP */
	uint8_t err;       /* enum vfp_parse_err when reason == MALFORMED */
	uint16_t inner_off; /* decap: where the inner frame starts */
	uint16_t l4port;   /* VIP: backend port */
	uint32_t port;     /* LOCAL: port; ENCAP: vtep id; VIP: backend id */
	uint32_t network;  /* network the frame was classified in */
	uint32_t vni;      /* ENCAP: VNI; decap: VNI it came with */
	uint8_t addr[16];  /* ENCAP: VTEP (mapped IPv4); VIP: backend address */
};

/* Table counters (per context). */
enum vfp_counter {
	VFP_C_PORT_HIT, VFP_C_PORT_MISS,
	VFP_C_MAC_HIT, VFP_C_MAC_MISS,
	VFP_C_VNI_HIT, VFP_C_VNI_MISS,
	VFP_C_VIP_HIT, VFP_C_VIP_MISS,
	VFP_C_LRU_HIT, VFP_C_LRU_MISS,
	VFP_C_PARSE_ERR, VFP_C_BATCHES, VFP_C_PACKETS,
	VFP_C_CONN_NEW,     /* conntrack VIP connections taken from their first packet */
	VFP_C_NAT_FORWARD,  /* frames rewritten toward a backend (DNAT) */
	VFP_C_NAT_REVERSE,  /* replies rewritten back to the VIP (reverse NAT) */
	VFP_C_CONN_EVICT,   /* connections dropped from the LRU (their XDP keys withdrawn) */
	VFP_C_PREV_HIT,     /* misses of the current tables decided by the previous snapshot */
	VFP_C_CONN_ADOPT,   /* connections taken over from the XDP maps of an earlier process */
	VFP_C_CONN_CLOSED,  /* TCP connections seen to end (FIN both ways, or RST): reclaimed first */
	VFP_C_CONN_PASS,    /* connections to a local backend taken off the tunnel, switched as they are */
	VFP_C_ICMP_REVERSE, /* ICMP errors about a connection the fast path dealt, rewritten to come from the VIP */
	VFP_C_COUNT
};

/* Interface counters (per context, per in_port < VFP_MAX_IFACES). */
enum vfp_if_counter {
	VFP_IC_RX, VFP_IC_RX_BYTES, VFP_IC_FAST, VFP_IC_SLOW, VFP_IC_DROPS, VFP_IC_ERRORS,
	VFP_IC_COUNT
};

struct vfp_dp;      /* a datapath: the current table snapshot and its readers */
struct vfp_ctx;     /* one classifying thread's state (LRU, counters, reader slot) */
struct vfp_builder; /* tables being assembled by the control plane */

/* ABI check for the binding: bump when a struct above changes. */
uint32_t vfp_abi_version(void);
#define VFP_ABI_VERSION 12

struct vfp_dp *vfp_dp_new(void);
void vfp_dp_free(struct vfp_dp *dp);
/* Build a snapshot from b, publish it, wait for a grace period, free the old one.
 * Returns the new generation (> 0) or a negative errno. b stays owned by the caller. */
int64_t vfp_dp_commit(struct vfp_dp *dp, const struct vfp_builder *b);
uint64_t vfp_dp_generation(const struct vfp_dp *dp);

/* lru_slots: connection-affinity LRU capacity (rounded up to a power of two; 0 = off). */
struct vfp_ctx *vfp_ctx_new(struct vfp_dp *dp, uint32_t lru_slots);
void vfp_ctx_free(struct vfp_ctx *ctx);

struct vfp_builder *vfp_builder_new(void);
void vfp_builder_free(struct vfp_builder *b);
void vfp_builder_clear(struct vfp_builder *b);
int vfp_builder_add_port(struct vfp_builder *b, uint32_t port, uint32_t network, uint32_t flags);
int vfp_builder_add_vni(struct vfp_builder *b, uint32_t vni, uint32_t network);
/* The same for a network of one encapsulation (enum vfp_encap): a tunnel frame of the other
 * carrying its VNI is refused, as OVS's tunnel port matches it to no flow. */
int vfp_builder_add_vni_encap(struct vfp_builder *b, uint32_t vni, uint32_t network, uint32_t encap);
int vfp_builder_add_vtep(struct vfp_builder *b, uint32_t vtep_id, uint32_t ip, const uint8_t nh_mac[6],
			 uint32_t encap);
int vfp_builder_add_mac_local(struct vfp_builder *b, uint32_t network, const uint8_t mac[6], uint32_t port);
int vfp_builder_add_mac_remote(struct vfp_builder *b, uint32_t network, const uint8_t mac[6],
			       uint32_t vtep_id, uint32_t vni);
/* Returns the VIP's index for vfp_builder_add_backend, or a negative errno. A VIP is a
 * network's: only frames of that network's ports meet it (tenants may use the same address). */
int vfp_builder_add_vip(struct vfp_builder *b, uint32_t network, uint8_t proto, const uint8_t addr[16], uint16_t port);
int vfp_builder_add_backend(struct vfp_builder *b, uint32_t vip_index, uint32_t backend_id,
			    const uint8_t addr[16], uint16_t port, uint16_t weight);

/* VIP flags (vfp_builder_set_vip_flags). */
#define VFP_VIP_CLIENT_IP 1u /* session affinity ClientIP: Maglev on the client address only */
/* Conntrack VIP (IPv4 TCP or UDP): the fast path takes a connection only from its first packet
 * (TCP: SYN without ACK; UDP: a datagram without a live entry, or whose backend left or has
 * weight 0, which deals the flow again), keeps it in the context's LRU for its whole life (later packets without an
 * entry go SLOW with VFP_R_VIP_NOT_OURS), rewrites destination MAC/IP/port toward the
 * backend and delivers by L2 (LOCAL or ENCAP verdict, l4port = backend port), and rewrites
 * the backend's replies back to the VIP (reverse NAT). Each connection's two keys are
 * published through the context's conn hook so the XDP filter hands over exactly those. */
#define VFP_VIP_CONNTRACK 2u
int vfp_builder_set_vip_flags(struct vfp_builder *b, uint32_t vip_index, uint32_t flags);
/* OVS's slot table of a conntrack VIP (src/pipeline/load-balancer.ts: LbNat hashes a new
 * connection into one of n_slots slots with multipath, LbSlot maps the slot to a
 * backend): ids[slot] is that slot's backend id (added to this VIP), or VFP_LB_NO_BACKEND;
 * n_slots from 1 to VFP_LB_SLOTS_MAX (the pipeline uses powers of two from 256).
 * With it, a new connection takes the slot OVS's multipath would compute (ovs_hash.c) and
 * the same backend, instead of the Maglev ring: both datapaths deal every connection alike. */
#define VFP_LB_SLOTS_MAX 8192u
#define VFP_LB_NO_BACKEND 0xffffffffu
int vfp_builder_set_vip_slots(struct vfp_builder *b, uint32_t vip_index, const uint32_t *ids, uint32_t n_slots);
/* The slot OVS's multipath picks for an IPv4 connection (host-order addresses and ports) in
 * a table of n_slots: symmetric_l3l4+udp, or nw_src when client_ip. Exposed to check
 * against OVS itself. VFP_LB_NO_BACKEND when n_slots is 0 or above VFP_LB_SLOTS_MAX. */
uint32_t vfp_ovs_lb_slot_of(uint32_t saddr, uint32_t daddr, uint8_t proto, uint16_t sport, uint16_t dport,
			    uint32_t client_ip, uint32_t n_slots);
/* vfp_builder_add_backend plus the backend's MAC (needed by conntrack VIPs for L2 delivery). */
int vfp_builder_add_backend_mac(struct vfp_builder *b, uint32_t vip_index, uint32_t backend_id, const uint8_t addr[16],
				uint16_t port, uint16_t weight, const uint8_t mac[6]);

/* Key of the XDP program's vfp_conn map: an IPv4 TCP/UDP 4-tuple as it appears in the frame
 * (addresses and ports in network order). Mirrored in bpf/xdp_redirect.c. */
struct vfp_conn_key {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint8_t proto;
	/* At the underlay, the tunnel's VNI (network order, as in the VXLAN or GENEVE header): the
	 * underlay's map holds every network's keys, and tenants may use the same 4-tuple at once.
	 * 0 at a VM's NIC, whose map is its own network's. */
	uint8_t vni[3];
}; /* 16 bytes */
static inline void vfp_conn_key_set_vni(struct vfp_conn_key *k, uint32_t vni)
{
	k->vni[0] = (uint8_t)(vni >> 16);
	k->vni[1] = (uint8_t)(vni >> 8);
	k->vni[2] = (uint8_t)vni;
}
static inline uint32_t vfp_conn_key_vni(const struct vfp_conn_key *k)
{
	return (uint32_t)k->vni[0] << 16 | (uint32_t)k->vni[1] << 8 | k->vni[2];
}
/* Value of a vfp_conn key: what that direction is rewritten to. The XDP maps outlive the
 * process that filled them (the programs stay attached), so a new process reads each
 * connection back from them and takes it over (vfp_conn_adopt). Mirrored in bpf/xdp_redirect.c. */
struct vfp_conn_val {
	uint32_t nat_addr; /* forward key: the backend; reverse key: the VIP (network order) */
	uint16_t nat_port; /* network order */
	uint8_t reverse;   /* 1: the backend -> client key */
	uint8_t flags;     /* VFP_CONN_CLOSED, VFP_CONN_PASS */
}; /* 8 bytes */
#define VFP_CONN_CLOSED 1u /* a TCP connection seen to end (a next process does not take it over) */
/* A passthrough connection (conn.h): a remote client's connection to a local backend, which
 * the client's node dealt; switched without rewriting (nat_* name the backend itself). Not
 * held while no runner takes it: OVS switches it as well, having no state for it here. */
#define VFP_CONN_PASS 2u
/* Where a connection key must be published: port is the fast-path port whose XDP program
 * sees that direction (VFP_PORT_VIA_UNDERLAY: the underlay). add 1 inserts, 0 withdraws.
 * Returns 0 or a negative errno (an insert that fails makes the connection go to OVS). */
#define VFP_PORT_VIA_UNDERLAY 0xffffffffu
typedef int (*vfp_conn_hook)(void *arg, uint32_t port, const struct vfp_conn_key *key, const struct vfp_conn_val *val,
			     int add);
/* Called on the context's own thread, inside classification, before the frame is sent. */
void vfp_ctx_set_conn_hook(struct vfp_ctx *ctx, vfp_conn_hook fn, void *arg);
/* Takes over a connection an earlier process published: its forward key (client -> VIP),
 * found at fast-path port `port` (the client's NIC), and that key's value (the backend).
 * The connection is put in the LRU as if this context had seen its SYN, and both keys are
 * published again (the reverse one where the backend is now reached). Call on the context's
 * own thread. 0, or a negative errno when it cannot be taken over (the VIP or backend is
 * gone, the backend is not reachable by the fast path, not a forward key, no LRU) or needs
 * not be (-ESTALE: the connection had ended). A passthrough connection (VFP_CONN_PASS) is
 * taken over from its reverse key instead, found at its backend's NIC (`port`), as long as
 * that is still a port of a network with load balancers. */
int vfp_conn_adopt(struct vfp_ctx *ctx, uint32_t port, const struct vfp_conn_key *key, const struct vfp_conn_val *val);
/* 1 when the context owns the connection direction `key` (kind: VFP_OWNS_* bits) with its
 * XDP key published at `port` (VFP_PORT_VIA_UNDERLAY for the underlay). */
int vfp_conn_owns(struct vfp_ctx *ctx, uint32_t port, const struct vfp_conn_key *key, uint32_t kind);
#define VFP_OWNS_REVERSE 1u /* kind: the backend -> client direction */
#define VFP_OWNS_PASS 2u    /* kind: of a passthrough connection (VFP_CONN_PASS) */
/* The VNI a connection key at the underlay names for a connection of port's network (its
 * reverse key, toward a remote backend), or 0 when the tables give none. */
uint32_t vfp_conn_port_vni(struct vfp_ctx *ctx, uint32_t port);

/* Connections dispatched per (conntrack VIP listener, backend) by a context, for the load
 * balancer's status (OVS counts its own in the LbDnat flows). At most VFP_CONN_COUNTS pairs. */
#define VFP_CONN_COUNTS 1024u
struct vfp_conn_count {
	uint32_t vip, backend; /* IPv4, host order */
	uint16_t port;         /* VIP port */
	uint8_t proto, used;
	uint32_t network;      /* the VIP's (tenants may use the same addresses) */
	uint64_t conns;
}; /* 24 bytes */
/* Copies up to n used entries into out; returns how many. */
uint32_t vfp_ctx_conn_counts(const struct vfp_ctx *ctx, struct vfp_conn_count *out, uint32_t n);

/* Source of encapsulated frames: the local VTEP address and the underlay MAC. */
int vfp_builder_set_local_vtep(struct vfp_builder *b, uint32_t ip, const uint8_t mac[6]);

/* Classify n frames that arrived on in_port. */
void vfp_classify_batch(struct vfp_ctx *ctx, uint32_t in_port, const uint8_t *const frames[],
			const uint32_t lens[], uint32_t n, struct vfp_verdict verdicts[]);
/* Same, frames addressed as offsets into one buffer (a UMEM): one pointer crosses koffi. */
void vfp_classify_umem(struct vfp_ctx *ctx, uint32_t in_port, const uint8_t *base, const uint32_t offs[],
		       const uint32_t lens[], uint32_t n, struct vfp_verdict verdicts[]);

/* Classify, then act in place (UMEM style). Frames live in chunks of chunk_size bytes
 * and the bytes of a frame's chunk before it are its headroom (0 = no headroom).
 * ENCAP prepends the outer headers into the headroom (offs[i] -= 50; with less than
 * 50 bytes the frame goes SLOW with reason VFP_R_NO_HEADROOM and counts as a drop),
 * decap moves offs[i]/lens[i] to the inner frame, VIP rewrites the destination
 * address and port with incremental checksum updates.
 * Returns the number of frames for the fast path (not SLOW). */
uint32_t vfp_forward_umem(struct vfp_ctx *ctx, uint32_t in_port, uint8_t *base, uint32_t chunk_size, uint32_t offs[],
			  uint32_t lens[], uint32_t n, struct vfp_verdict verdicts[]);

/* Counter reads: copy into out, return the number written. */
uint32_t vfp_ctx_counters(const struct vfp_ctx *ctx, uint64_t *out, uint32_t n);
uint32_t vfp_ctx_iface_counters(const struct vfp_ctx *ctx, uint32_t port, uint64_t *out, uint32_t n);

/* Maglev ring for weighted backends, exposed for reference tests (see maglev.h). */
int vfp_maglev_build(const uint32_t ids[], const uint8_t addrs[][16], const uint16_t ports[],
		     const uint16_t weights[], uint32_t n, uint16_t *ring /* VFP_MAGLEV_M */);

/* Encapsulation parameters. */
struct vfp_encap_params {
	uint8_t type;  /* enum vfp_encap */
	uint8_t ttl;
	uint16_t src_port; /* outer UDP source port (flow entropy) */
	uint32_t vni;
	uint32_t src_ip, dst_ip; /* host order */
	uint8_t src_mac[6], dst_mac[6];
	uint16_t ip_id;
	uint16_t pad;
};
/* Write outer headers + inner frame to out; returns bytes written or negative errno. */
int vfp_encap(const struct vfp_encap_params *p, const uint8_t *inner, uint32_t inner_len, uint8_t *out,
	      uint32_t out_cap);
/* Parse an outer frame; on success *inner_off and *vni are set and type is returned (>= 0). */
int vfp_decap(const uint8_t *frame, uint32_t len, uint32_t *inner_off, uint32_t *vni);
/* 32-bit flow hash of a frame (entropy for the outer UDP source port). */
uint32_t vfp_flow_hash(const uint8_t *frame, uint32_t len);

/* AF_XDP ports (xsk.c). open loads obj_path's vfp_xdp_redirect on ifname (mode 1: all
 * frames ours, 2: only VXLAN/GENEVE), creates a UMEM and a copy-mode socket on queue.
 * On failure returns NULL with the reason in err. */
struct vfp_xsk;
struct vfp_xsk *vfp_xsk_open(const char *ifname, uint32_t queue, const char *obj_path, uint32_t mode,
			     uint32_t skb_mode, char *err, uint32_t errlen);
void vfp_xsk_close(struct vfp_xsk *x);
int vfp_xsk_fd(const struct vfp_xsk *x);
/* Receive up to budget frames, forward them (vfp_forward_umem) and queue each on
 * outs[port] (LOCAL), outs[underlay_port] (ENCAP) or outs[slow_port] (SLOW); frames
 * with no output are dropped and counted. Returns frames received. */
uint32_t vfp_xsk_rx_forward(struct vfp_xsk *x, struct vfp_ctx *ctx, uint32_t in_port, struct vfp_xsk *const outs[],
			    uint32_t n_outs, uint32_t underlay_port, uint32_t slow_port, uint32_t budget);
/* Push frames queued on x's TX ring to the kernel (copy mode sends from sendto). */
void vfp_xsk_flush(struct vfp_xsk *x);
/* {rx, tx, tx_full, fast, slow, drops} */
uint32_t vfp_xsk_stats(const struct vfp_xsk *x, uint64_t *out, uint32_t n);
/* Where the port's UMEM is mapped (what it costs the host is that mapping, pinned). */
uint64_t vfp_xsk_umem_addr(const struct vfp_xsk *x);
/* Frames of the UMEMs of VM NICs opened from now on, in this process: RX and TX, powers of two
 * from 64 to 4096 (2 KiB each, pinned); 0, 0: the default (VFP_XSK_VM_UMEM=RX/TX, else
 * 4096/512). 0 or -EINVAL. */
int vfp_xsk_set_vm_umem(uint32_t rx, uint32_t tx);

/* XDP modes (vfp_cfg.mode in bpf/xdp_redirect.c). The filtered ones are how vnetd runs: only
 * frames the fast path decides reach the socket; the rest continue to the stack and OVS
 * (XDP_PASS). */
#define VFP_XDP_PASS_ALL 0u
#define VFP_XDP_ALL_OURS 1u
#define VFP_XDP_TUNNELS_ONLY 2u
#define VFP_XDP_VM_FILTERED 3u
#define VFP_XDP_UNDERLAY_FILTERED 4u
#define VFP_XDP_PORT_SECURITY 1u /* flags: VM-facing, IPv4 (source MAC, source IP) must be listed */
struct vfp_xsk *vfp_xsk_open_flags(const char *ifname, uint32_t queue, const char *obj_path, uint32_t mode,
				   uint32_t flags, uint32_t skb_mode, char *err, uint32_t errlen);
/* fd of the XDP object's map `name` (vfp_dst, vfp_src, vfp_inner), or negative. */
int vfp_xsk_map_fd(const struct vfp_xsk *x, const char *name);

/* A node's fast-path runner (runner.c): one C thread that enters a network namespace
 * (setns on itself only), opens an AF_XDP port per interface there, and forwards
 * between them until stopped, classifying with ctx against dp's current tables. */
struct vfp_runner_if {
	char name[16];  /* interface name inside the namespace */
	uint32_t port;  /* fast-path port id (ofport of a VM NIC, or the underlay's id) */
	uint32_t mode;  /* VFP_XDP_VM_FILTERED or VFP_XDP_UNDERLAY_FILTERED */
	uint32_t flags; /* VFP_XDP_PORT_SECURITY */
}; /* 28 bytes */
struct vfp_runner;
/* netns: path of a network namespace file (/run/netns/NAME) or "" for the caller's.
 * Blocks until every port is open; on failure returns NULL with the reason in err.
 * Every vfp_runner_* call may come from any thread (vnetd makes start, stop, release, add and
 * remove from a worker thread): adds and removes are taken one at a time, a stop waits for
 * one under way. Not after vfp_runner_stop or vfp_runner_release has begun. */
struct vfp_runner *vfp_runner_start(struct vfp_ctx *ctx, const char *netns, const struct vfp_runner_if ifs[], uint32_t n,
				    const char *obj_path, uint32_t skb_mode, uint32_t underlay_port, char *err,
				    uint32_t errlen);
void vfp_runner_stop(struct vfp_runner *r);
/* Stops the runner but leaves its XDP programs attached, with the connections it owns held
 * in their vfp_conn maps (at most VFP_CONN_HOLD_NS), for the next process's runner to take
 * over: a restart of vnetd. vfp_runner_stop detaches them (the node is leaving the fast path). */
void vfp_runner_release(struct vfp_runner *r);
/* {connections of an earlier process taken over, inherited ones that could not be}. */
uint32_t vfp_runner_adopted(const struct vfp_runner *r, uint64_t *out, uint32_t n);
/* Add or remove one interface while running: the calling thread opens or closes it inside
 * the runner's netns, the runner thread only takes it in or lets it go (the caller waits for
 * that: the thread is woken, a fraction of a millisecond). 0 or negative errno (reason in err). */
int vfp_runner_add(struct vfp_runner *r, const struct vfp_runner_if *ifc, char *err, uint32_t errlen);
int vfp_runner_remove(struct vfp_runner *r, uint32_t port);
/* {ns, count} of the add/remove commands on the runner thread (time it forwarded nothing), the
 * ns their callers waited for them (the thread woken at once, not at its next poll), and the
 * idle waits a command's wake-up ended. */
uint32_t vfp_runner_cmd_stats(const struct vfp_runner *r, uint64_t *out, uint32_t n);
/* Filter maps of the interface with fast-path port id `port`: map 1 = vfp_src (key 12
 * bytes: MAC, u16 kind in host order, 1 for a source VIP connections may come from, IPv4), 2 = vfp_inner (12), 3 = vfp_vip (8), 4 = vfp_src6 (24: MAC, 2 pad bytes, IPv6
 * address), 5 = vfp_target (20), 6 = vfp_lbnet (4); 8 = the VM NIC's network tag and own MAC
 * (12: u32 host order, MAC, 2 pad; deleting it clears the tag if it is still that one). The
 * node's own maps, shared by its VM NICs' programs (port ignored): 0 = vfp_dst (12: network
 * tag, MAC, 2 pad), 7 = vfp_vipaddr (8: network tag, IPv4). add != 0 inserts, else deletes (a
 * missing key is not an error). 0 or negative errno. */
int vfp_runner_filter(struct vfp_runner *r, uint32_t port, uint32_t map, const uint8_t *key, uint32_t add);
/* xsk stats of that interface ({rx, tx, tx_full, fast, slow, drops}); loop iterations in out[6] when n > 6. */
uint32_t vfp_runner_stats(struct vfp_runner *r, uint32_t port, uint64_t *out, uint32_t n);

/* Test support (stress.c): a C thread classifying while the control plane swaps tables. */
struct vfp_stress;
struct vfp_stress *vfp_stress_start(struct vfp_dp *dp, uint32_t in_port, const uint8_t *base,
				    const uint32_t offs[], const uint32_t lens[], uint32_t n,
				    const struct vfp_verdict exp_a[], const struct vfp_verdict exp_b[]);
/* Stops the thread; out = {batches, frames, mismatches, mixed_batches, a_batches, b_batches}. */
int vfp_stress_stop(struct vfp_stress *s, uint64_t out[6]);

#ifdef __cplusplus
}
#endif
#endif
