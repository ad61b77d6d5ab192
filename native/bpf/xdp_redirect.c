/*
 * XDP programs for vnetd's fast path, one per interface (the libxdp dispatcher does not
 * load on our machines): vfp_xdp_vm on a VM's NIC, vfp_xdp_underlay on the underlay. Frames that are ours go to the AF_XDP socket bound to the rx
 * queue they arrived on; everything else, and everything when no socket is bound,
 * continues up the stack (XDP_PASS) so vnetd never black-holes traffic it does not own.
 *
 * vfp_cfg[0].mode: 0 = pass everything (fast path off on this interface),
 *                  1 = VM-facing: every frame is ours,
 *                  2 = underlay: only UDP to a port listed in vfp_ours (VXLAN, GENEVE),
 *                  3 = VM-facing, filtered: unicast to a MAC of the port's network
 *                      (vfp_cfg.net) in vfp_dst, not its own (vfp_cfg.mac), and with
 *                      VFP_CFG_PORT_SECURITY only IPv4 whose (source MAC, source IP)
 *                      is in vfp_src (a VIP connection's: its VFP_SRC_CONN key), or IPv6 TCP, UDP or ICMPv6 other than neighbour
 *                      discovery whose (source MAC, source IPv6) is in vfp_src6,
 *                  4 = underlay, filtered: VXLAN/GENEVE whose (VNI, inner destination
 *                      MAC) is in vfp_inner (in a network of vfp_lbnet, unless it comes
 *                      from a backend's address or is IPv6 the network leaves to OVS:
 *                      from_backend), or whose inner frame is of
 *                      a connection in vfp_conn or opens one to a local backend's listener
 *                      in vfp_target.
 * In modes 3 and 4 an IPv4 ICMP error quoting a datagram of a connection in vfp_conn (its key
 * swapped: the connection's reverse key) is the fast path's too (icmp_is_ours).
 * The filtered modes are how vnetd runs beside OVS: a frame the fast path would not
 * decide (ARP, broadcast, unknown or spoofed addresses) never reaches the AF_XDP
 * socket, it continues to OVS's own port (XDP_PASS) with its ingress port intact.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define VFP_CFG_PORT_SECURITY 1u

struct vfp_cfg {
	__u32 mode;
	__u32 flags;
	/* Until when (bpf_ktime_get_ns) frames of a connection in vfp_conn are dropped rather
	 * than passed up when no socket takes them: the runner pushes it forward every second
	 * and leaves the program attached when its process stops or dies, so the connections
	 * it owned wait (TCP retransmits) for the next process to take them over from
	 * vfp_conn, instead of reaching OVS, which never saw them and would reset them. A
	 * runner that never comes back lets them go once it passes. */
	__u64 hold_until;
	/* The rx queue the runner's socket is bound to: the hold applies there only. Frames of
	 * other queues of a multi-queue NIC never reach a socket, and go to OVS as always. */
	__u32 queue;
	/* A VM NIC's network (its tag in vfp_dst and vfp_vipaddr) and its own MAC; net 0: its
	 * ordinary traffic is OVS's (a port whose network's load balancers need its conntrack,
	 * or not yet applied). */
	__u32 net;
	__u8 mac[6];
	__u16 pad;
};

/* Keys of the filter maps (layouts mirrored in native/src/xsk.c and src/fastpath). */
struct vfp_src_key {
	__u8 mac[6];
	__u16 kind; /* 0: the port may send from it; VFP_SRC_CONN: and open VIP connections from it
		     * (ip 0: from any address, a port without port security) */
	__u32 ip; /* network order */
};

/*
 * A source a VIP connection may come from: one whose MAC the tables deliver to this port, so
 * that the connection's replies, which the fast path rewrites and switches by the client's
 * MAC, can reach it. A pair MAC several ports declare (VRRP peers) has no one place in the
 * tables (OVS sends its frames to every holder): a connection dealt from it had every reply
 * dropped as a MAC miss (QA-122 F7: 0 of 40 answered). Its VIP traffic stays with OVS, which
 * deals and un-DNATs it and delivers the replies to every holder; its other traffic, whose
 * replies go to OVS anyway (the MAC is in no vfp_dst or vfp_inner key), stays here.
 */
#define VFP_SRC_CONN 1

struct vfp_src6_key {
	__u8 mac[6];
	__u16 pad;
	__u8 ip[16];
};

struct vfp_inner_key {
	__u32 vni;
	__u8 mac[6];
	__u16 pad;
};

/* One map for all of a node's VM NICs (native/src/runner.c creates it and every VM NIC's
 * program takes it): the MACs of each network with a port there, by network. Per NIC, the
 * keys were every MAC of its network: O(ports x MACs) at a busy hypervisor. */
struct vfp_dst_key {
	__u32 net; /* host order (vfp_cfg.net) */
	__u8 mac[6];
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vfp_dst_key);
	__type(value, __u8);
} vfp_dst SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vfp_src_key);
	__type(value, __u8);
} vfp_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vfp_src6_key);
	__type(value, __u8);
} vfp_src6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vfp_inner_key);
	__type(value, __u8);
} vfp_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} vfp_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vfp_cfg);
} vfp_cfg SEC(".maps");

/* Conntrack VIPs (native/src/conn.h): TCP listeners whose connections the fast path takes
 * from their SYN, UDP listeners whose flows it takes from any datagram, and the two
 * directions of each connection it took. The runner publishes
 * a connection's keys before its SYN leaves and withdraws them when the connection leaves
 * its LRU, so this program hands over exactly the packets the classifier owns; any other
 * packet toward a VIP, or from a backend, stays with OVS's conntrack. */
struct vfp_vip_key {
	__u32 addr; /* network order */
	__u16 port; /* network order */
	__u8 proto;
	__u8 pad;
};

/* vni: the tunnel's at the underlay (whose map holds every network's keys; tenants may use
 * the same 4-tuple at once), 0 on a VM's NIC (its map is its own network's). */
struct vfp_conn_key {
	__u32 saddr, daddr;
	__u16 sport, dport;
	__u8 proto;
	__u8 vni[3];
};

/* What the key's direction is rewritten to (include/vfp.h struct vfp_conn_val): user space
 * reads it to take the connections over after a restart; this program only its flags. */
struct vfp_conn_val {
	__u32 nat_addr;
	__u16 nat_port;
	__u8 reverse;
	__u8 flags;
};
#define VFP_CONN_CLOSED 1 /* a TCP connection seen to end: not taken over */
#define VFP_CONN_PASS 2   /* a passthrough connection: OVS may switch it too, never held */

/*
 * Fragments of a datagram of a connection the fast path NATs (native/src/frag.h, conn.h): a
 * backend's reply it un-DNATs, or a client's request it DNATs. Only a datagram's first
 * fragment has ports, so it alone can be matched to its connection's key (reverse or
 * forward); the later ones (same addresses, protocol and IP ID, and VNI at the underlay) are
 * taken or passed as their first was, so one datagram is never split between the fast path
 * (which rewrites it) and OVS (which cannot: it never saw the connection). A later fragment
 * seen before its first (no entry) is passed, and noted, so that its first and the rest are
 * passed too: that datagram is OVS's whole. LRU: bounded, the oldest datagram's entry goes;
 * every fragmented datagram that reaches the connection checks writes one entry.
 */
struct vfp_frag_key {
	__u32 saddr, daddr;
	__u16 id; /* network order, as in the header */
	__u8 proto;
	__u8 vni[3];
	__u16 pad;
};

struct vfp_frag_val {
	__u64 until; /* bpf_ktime_get_ns after which the entry says nothing */
	__u8 ours;   /* 1: the first fragment was handed to the socket */
	__u8 pad[7];
};

/* Shorter than the classifier's memory of the rewrite (VFP_FRAG_TTL_NS in native/src/frag.h):
 * a fragment handed over within it finds its first's rewrite there. */
#define VFP_FRAG_NS 1000000000ull

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vfp_frag_key);
	__type(value, struct vfp_frag_val);
} vfp_frag SEC(".maps");

/* A local backend's listener (a conntrack network's port, its address and target port): a
 * remote client's connection to it arrives DNATed by the client's node and is only switched
 * here, so the fast path takes it from its first packet off the tunnel (native/src/conn.h,
 * passthrough): a TCP SYN, or any UDP datagram, but not a datagram from any backend's
 * listener (the same key with a zero MAC, for every backend of the network's VIPs): that may
 * be the reply to a flow this node's OVS dealt (a backend querying its own VIP from its
 * listening port), which only OVS can un-DNAT. */
struct vfp_target_key {
	__u32 vni;
	__u8 mac[6];  /* the backend's port */
	__u16 port;   /* network order */
	__u32 addr;   /* network order */
	__u8 proto;
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vfp_vip_key);
	__type(value, __u8);
} vfp_vip SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vfp_conn_key);
	__type(value, struct vfp_conn_val);
} vfp_conn SEC(".maps");

/* As many as vfp_conn (a UDP listener of every backend of every VIP has a key). A VM NIC's
 * program has it with one entry (native/src/xsk.c size_for_role), never written. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vfp_target_key);
	__type(value, __u8);
} vfp_target SEC(".maps");

/* UDP destination ports (network order) that are ours on the underlay. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u16);
	__type(value, __u8);
} vfp_ours SEC(".maps");

static __always_inline int underlay_is_ours(void *data, void *end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP || ip->ihl < 5)
		return 0;
	/* Fragments are left to the stack: their later parts carry no UDP header. */
	if (ip->frag_off & bpf_htons(0x3fff))
		return 0;
	udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > end)
		return 0;
	return bpf_map_lookup_elem(&vfp_ours, &udp->dest) != NULL;
}

/* A port-security check of an IPv6 frame: TCP, UDP or ICMPv6 other than neighbour discovery
 * (whose answers and spoof checks are OVS's: a forged NA must meet its spoof guard), from a
 * (MAC, address) pair the port may use. Extension headers, link-local sources not listed and
 * everything else go to OVS. */
static __always_inline int ipv6_source_ok(struct ethhdr *eth, void *end)
{
	__u8 *ip6 = (__u8 *)(eth + 1), *l4 = ip6 + 40;
	struct vfp_src6_key k = {};
	__u8 next;

	if ((void *)l4 > end)
		return 0;
	next = ip6[6];
	if (next == 58) { /* ICMPv6 */
		if ((void *)(l4 + 1) > end || (l4[0] >= 133 && l4[0] <= 137))
			return 0;
	} else if (next != IPPROTO_TCP && next != IPPROTO_UDP) {
		return 0;
	}
	__builtin_memcpy(k.mac, eth->h_source, 6);
	__builtin_memcpy(k.ip, ip6 + 8, 16);
	return bpf_map_lookup_elem(&vfp_src6, &k) != NULL;
}

/* The VIP addresses of a load-balanced network, on its ports whose ordinary traffic is the
 * fast path's: a frame to one of them sent to a port's MAC (a router's, across subnets) is
 * not taken as ordinary traffic; only the connections the fast path owns or opens are
 * (vm_conn_is_ours), as for any port. OVS deals the others whatever their MAC. */
struct vfp_vipaddr_key {
	__u32 net; /* host order (vfp_cfg.net) */
	__u32 addr; /* IPv4, network order */
};

/* Node-wide, as vfp_dst. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vfp_vipaddr_key);
	__type(value, __u8);
} vfp_vipaddr SEC(".maps");

/*
 * What a frame must be for the classifier to decide it, beyond its addresses (a VM NIC's, or
 * a tunnel frame's inner one): an IP
 * header of its ethertype's version (OVS switches an IPv4 ethertype with version 6 in its
 * header, or an IHL under 5, as it does any frame: the classifier refuses it, and a frame the
 * socket takes has no way back to OVS) and not what port security's router guard leaves to
 * OVS (src/pipeline/router-guard.ts, parse.h vfp_router_guarded: a port without port
 * security may send it, and OVS must see it). l3: the IP header, v6: its ethertype's.
 */
static __always_inline int ip_takeable(__u8 *l3, void *end, int v6)
{
	__u8 *l4;
	__u8 proto;

	if ((void *)(l3 + (v6 ? 40 : 20)) > end)
		return 0;
	if (v6) {
		if ((l3[0] >> 4) != 6)
			return 0;
		proto = l3[6];
		l4 = l3 + 40;
	} else {
		if ((l3[0] >> 4) != 4 || (l3[0] & 15) < 5)
			return 0;
		proto = l3[9];
		l4 = l3 + (l3[0] & 15) * 4;
		/* A later fragment has no L4 header (what is there is payload): it goes where its
		 * first goes, as the classifier (vfp_router_guarded needs ports) decides it. Judged
		 * by payload bytes, one in 65,536 of a reply's went to OVS unrewritten. */
		if (((__u16)l3[6] << 8 | l3[7]) & 0x1fff)
			return 1;
	}
	if ((void *)(l4 + 2) > end)
		return proto != IPPROTO_UDP && proto != 58;
	if (proto == IPPROTO_UDP)
		return ((__u16)l4[0] << 8 | l4[1]) != (v6 ? 547 : 67);
	if (v6 && proto == 58)
		return l4[0] != 134 && l4[0] != 137;
	return 1;
}

static __always_inline int vm_frame_is_ours(void *data, void *end, const struct vfp_cfg *cfg)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct vfp_src_key sk = {};
	struct vfp_dst_key dst = {};
	struct vfp_vipaddr_key va = {};
	__u32 flags = cfg->flags;

	if ((void *)(eth + 1) > end || (eth->h_dest[0] & 1) || !cfg->net)
		return 0;
	/* Its own MAC: a frame the port sends itself is OVS's to drop, as with no fast path. */
	if (eth->h_dest[0] == cfg->mac[0] && eth->h_dest[1] == cfg->mac[1] && eth->h_dest[2] == cfg->mac[2] &&
	    eth->h_dest[3] == cfg->mac[3] && eth->h_dest[4] == cfg->mac[4] && eth->h_dest[5] == cfg->mac[5])
		return 0;
	/* IP only: ARP (and anything else) is answered or switched by OVS; a frame handed
	 * to the socket that the classifier then sends to the slow path has no way back. */
	if (eth->h_proto != bpf_htons(ETH_P_IP) && eth->h_proto != bpf_htons(ETH_P_IPV6))
		return 0;
	dst.net = cfg->net;
	__builtin_memcpy(dst.mac, eth->h_dest, 6);
	if (!bpf_map_lookup_elem(&vfp_dst, &dst))
		return 0;
	if (!ip_takeable((__u8 *)(eth + 1), end, eth->h_proto == bpf_htons(ETH_P_IPV6)))
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return !(flags & VFP_CFG_PORT_SECURITY) || ipv6_source_ok(eth, end);
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return 0;
	va.net = cfg->net;
	va.addr = ip->daddr;
	if (bpf_map_lookup_elem(&vfp_vipaddr, &va))
		return 0;
	if (!(flags & VFP_CFG_PORT_SECURITY))
		return 1;
	__builtin_memcpy(sk.mac, eth->h_source, 6);
	sk.ip = ip->saddr;
	return bpf_map_lookup_elem(&vfp_src, &sk) != NULL;
}

/* The inner frame of a VXLAN or GENEVE frame the underlay filter accepts (unicast, at least
 * an Ethernet header long), or NULL; *tun gets the tunnel header (VNI in bytes 4-6). */
static __always_inline __u8 *tunnel_inner(void *data, void *end, __u8 **tun)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;
	__u8 *hdr, *inner;

	if (!underlay_is_ours(data, end))
		return NULL;
	ip = (void *)(eth + 1);
	udp = (void *)ip + ip->ihl * 4;
	hdr = (void *)(udp + 1);
	if ((void *)(hdr + 8) > end)
		return NULL;
	if (udp->dest == bpf_htons(4789))
		inner = hdr + 8;
	else
		inner = hdr + 8 + (hdr[0] & 0x3f) * 4;
	if ((void *)(inner + 14) > end || (inner[0] & 1))
		return NULL;
	*tun = hdr;
	return inner;
}

/* Networks with load balancers (their VNIs): OVS runs their IP through its conntrack, and
 * un-DNATs on the client's node the replies of the connections it dispatched. A VNI with
 * VFP_LBNET_IPV6 set: the network's IPv6 is OVS's (it has an IPv6 VIP or backend, and the
 * fast path deals IPv4 VIPs only). */
#define VFP_LBNET_IPV6 0x80000000u
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u8);
} vfp_lbnet SEC(".maps");

/* Whether an inner frame of a load-balanced network may be a backend's reply to a
 * connection OVS dispatched: anything IPv4 from a backend's address (whatever its port: a
 * connection OVS dealt keeps the target port it had when the listener's changed since; an
 * ICMP error OVS relates to the NAT), or an IPv4 frame too short to tell; vfp_target's
 * zero-MAC keys with port and protocol 0 list the addresses. Any IPv6 frame of a network
 * whose IPv6 is OVS's (VFP_LBNET_IPV6). */
static __always_inline int from_backend(__u8 *inner, void *end, __u32 vni)
{
	struct iphdr *ip = (void *)(inner + 14);
	struct vfp_target_key k = {};
	__u32 v6 = vni | VFP_LBNET_IPV6;

	if (inner[12] == 0x86 && inner[13] == 0xdd)
		return bpf_map_lookup_elem(&vfp_lbnet, &v6) != NULL;
	if (inner[12] != 0x08 || inner[13] != 0x00)
		return 0;
	if ((void *)(ip + 1) > end)
		return 1;
	k.vni = vni;
	k.addr = ip->saddr;
	return bpf_map_lookup_elem(&vfp_target, &k) != NULL;
}

static __always_inline int tunnel_frame_is_ours(void *data, void *end)
{
	struct vfp_inner_key k = {};
	__u8 *hdr, *inner = tunnel_inner(data, end, &hdr);

	if (!inner)
		return 0;
	/* Inner IP only (ARP stays with OVS, as on the VM side). */
	if (!((inner[12] == 0x08 && inner[13] == 0x00) || (inner[12] == 0x86 && inner[13] == 0xdd)))
		return 0;
	if (!ip_takeable(inner + 14, end, inner[12] == 0x86))
		return 0;
	k.vni = ((__u32)hdr[4] << 16) | ((__u32)hdr[5] << 8) | hdr[6];
	__builtin_memcpy(k.mac, inner, 6);
	if (!bpf_map_lookup_elem(&vfp_inner, &k))
		return 0;
	/* A load-balanced network's port whose ordinary traffic is the fast path's: not what a
	 * backend sends (its connections the fast path owns are taken by their own keys). */
	return !bpf_map_lookup_elem(&vfp_lbnet, &k.vni) || !from_backend(inner, end, k.vni);
}

/* The vfp_conn key of an IPv4 packet whose ports are at l4 (checked by the caller); tun: the
 * tunnel header of an inner frame (its VNI is part of the key), or NULL. */
static __always_inline void conn_key_of(struct vfp_conn_key *k, struct iphdr *ip, __u8 *l4, __u8 *tun)
{
	k->saddr = ip->saddr;
	k->daddr = ip->daddr;
	__builtin_memcpy(&k->sport, l4, 2);
	__builtin_memcpy(&k->dport, l4 + 2, 2);
	k->proto = ip->protocol;
	if (tun)
		__builtin_memcpy(k->vni, tun + 4, 3);
}

/* Whether a TCP or UDP fragment (ip: its IPv4 header; tun: as conn_is_ours) is the fast
 * path's: a first fragment of either direction of a connection it dealt (a backend's reply,
 * which the classifier rewrites to come from the VIP; a client's request, rewritten toward its
 * connection's backend: left to OVS, which deals fragments by the client's address alone, it
 * could reach another backend than the 5-tuple's other datagrams, QA-122 F2), or a later
 * fragment of a datagram whose first was (vfp_frag). Requests of a 5-tuple without a
 * connection here (OVS reassembles and deals them), passthrough requests off the tunnel
 * (switched as they are either way) and anything else go to OVS. */
static __always_inline int frag_is_ours(struct iphdr *ip, void *end, __u8 *tun)
{
	struct vfp_frag_key fk = {};
	struct vfp_frag_val fv = {}, *old;
	struct vfp_conn_key k = {};
	struct vfp_conn_val *cv;
	__u64 now = bpf_ktime_get_ns();
	__u8 *l4;

	fk.saddr = ip->saddr;
	fk.daddr = ip->daddr;
	fk.id = ip->id;
	fk.proto = ip->protocol;
	if (tun)
		__builtin_memcpy(fk.vni, tun + 4, 3);
	old = bpf_map_lookup_elem(&vfp_frag, &fk);
	fv.until = now + VFP_FRAG_NS;
	if (ip->frag_off & bpf_htons(0x1fff)) { /* a later fragment */
		if (old && now < old->until)
			return old->ours;
		bpf_map_update_elem(&vfp_frag, &fk, &fv, BPF_ANY); /* before its first: all passed */
		return 0;
	}
	if (old && now < old->until && !old->ours)
		return 0; /* a later fragment of it was passed already */
	l4 = (void *)ip + ip->ihl * 4;
	if ((void *)(l4 + 4) <= end) {
		conn_key_of(&k, ip, l4, tun);
		cv = bpf_map_lookup_elem(&vfp_conn, &k);
		/* A passthrough connection's at a NIC too (tun NULL: a local backend's reply to a
		 * remote client): the fast path switches its fragments in the order the backend sent
		 * them. Left to OVS, whose userspace datapath sends a batch's upcalled frames before
		 * its cached ones, a later fragment could reach the client's node before its first;
		 * that node's filter then passes the whole datagram to OVS, which has no NAT state
		 * for it, and it arrives from the backend's address (1 answer in 32, 1 CI run in 5).
		 * At the underlay (a remote client's request) OVS still takes them. */
		fv.ours = cv && (!(cv->flags & VFP_CONN_PASS) || !tun);
	}
	/* Also when not ours: an entry of an earlier datagram with this IP ID must not take
	 * this one's later fragments. */
	bpf_map_update_elem(&vfp_frag, &fk, &fv, BPF_ANY);
	return fv.ours;
}

/*
 * An IPv4 ICMP error (destination unreachable, time exceeded: types 3 and 11) quoting a
 * datagram of a connection the fast path dealt (ip: its IPv4 header; tun: as conn_is_ours).
 * The quote is client -> backend:target port, the connection's direction after DNAT: swapped,
 * it is the connection's reverse key, published where the backend's replies arrive (its NIC,
 * or the underlay of the client's node with the VNI). The classifier rewrites it as OVS's
 * conntrack does a related ICMP (native/src/conn.c icmp_reverse); left to OVS, which has no
 * NAT state for the connection, it reached the client from the backend's address quoting a
 * socket the client never opened (QA-152 F8, QA-156 F2). Not a passthrough connection's:
 * switched as it is either way, OVS does it. Only ICMP frames get here.
 */
static __always_inline int icmp_is_ours(struct iphdr *ip, void *end, __u8 *tun)
{
	struct vfp_conn_key k = {};
	struct vfp_conn_val *cv;
	__u8 *icmp, *q, *ql4;

	if (ip->frag_off & bpf_htons(0x3fff))
		return 0;
	icmp = (void *)ip + ip->ihl * 4;
	q = icmp + 8;
	if ((void *)(q + 20) > end || (icmp[0] != 3 && icmp[0] != 11))
		return 0;
	if ((q[0] >> 4) != 4 || (q[0] & 15) < 5 || (q[9] != IPPROTO_TCP && q[9] != IPPROTO_UDP))
		return 0;
	ql4 = q + (q[0] & 15) * 4;
	if ((void *)(ql4 + 4) > end)
		return 0;
	__builtin_memcpy(&k.saddr, q + 16, 4);
	__builtin_memcpy(&k.daddr, q + 12, 4);
	__builtin_memcpy(&k.sport, ql4 + 2, 2);
	__builtin_memcpy(&k.dport, ql4, 2);
	k.proto = q[9];
	if (tun)
		__builtin_memcpy(k.vni, tun + 4, 3);
	cv = bpf_map_lookup_elem(&vfp_conn, &k);
	return cv && !(cv->flags & VFP_CONN_PASS);
}

/* An IPv4 TCP or UDP frame starting at eth that opens a flow to a conntrack VIP (syn_ok: a
 * TCP SYN, or any UDP datagram, which has no first packet to tell; 2) or is a packet of a
 * connection the fast path owns (1; held: only one held while no socket takes it, not a
 * passthrough one; then also TCP only). tk: the frame's vfp_target key is filled too (the
 * caller looks it up when nothing else took the frame), NULL when not wanted. tun: the
 * tunnel header of an inner frame (its VNI is part of the connection's key), or NULL. */
static __always_inline int conn_is_ours(void *eth, void *end, int syn_ok, int held, struct vfp_target_key *tk,
					struct vfp_target_key *from, __u8 *tun)
{
	struct iphdr *ip = eth + 14;
	struct vfp_conn_key k = {};
	struct vfp_vip_key vk = {};
	struct vfp_conn_val *cv;
	__u8 *l4;

	if ((void *)(ip + 1) > end || ((__u8 *)eth)[12] != 0x08 || ((__u8 *)eth)[13] != 0x00)
		return 0;
	if (ip->protocol == IPPROTO_ICMP) /* an error about a connection of ours (never held) */
		return !held && ip->ihl >= 5 && icmp_is_ours(ip, end, tun);
	if ((ip->protocol != IPPROTO_TCP && (held || ip->protocol != IPPROTO_UDP)) || ip->ihl < 5)
		return 0;
	/* Fragments: a connection's are ours as its datagram's first is (frag_is_ours). Not while
	 * held: a UDP flow is never held, and a TCP segment is seldom fragmented. */
	if (ip->frag_off & bpf_htons(0x3fff))
		return !held && frag_is_ours(ip, end, tun);
	l4 = (void *)ip + ip->ihl * 4;
	if ((void *)(l4 + 8) > end || (ip->protocol == IPPROTO_TCP && (void *)(l4 + 20) > end)) /* ports; TCP's header */
		return 0;
	conn_key_of(&k, ip, l4, tun);
	cv = bpf_map_lookup_elem(&vfp_conn, &k);
	if (cv)
		return !held || !(cv->flags & VFP_CONN_PASS);
	if (!syn_ok && !tk)
		return 0;
	if (k.proto == IPPROTO_TCP && ((void *)(l4 + 14) > end || (l4[13] & 0x16) != 0x02)) /* SYN without ACK or RST (bounds again for the verifier) */
		return 0;
	if (tk) {
		__builtin_memcpy(tk->mac, eth, 6);
		tk->port = k.dport;
		tk->addr = k.daddr;
		tk->proto = k.proto;
		from->port = k.sport;
		from->addr = k.saddr;
		from->proto = k.proto;
		return 0;
	}
	vk.addr = ip->daddr;
	vk.port = k.dport;
	vk.proto = k.proto;
	return bpf_map_lookup_elem(&vfp_vip, &vk) ? 2 : 0;
}

/* VM-facing: conntrack VIP traffic from a source whose replies the tables deliver to this
 * port (VFP_SRC_CONN): with port security one of its (MAC, IPv4) pairs, every packet; without
 * it, a connection's opening packet from such a MAC, any address (a port without port security
 * may send from any MAC). */
static __always_inline int vm_conn_is_ours(void *data, void *end, __u32 flags)
{
	struct ethhdr *eth = data;
	struct vfp_src_key sk = {};
	int r;

	if ((void *)(eth + 1) > end || (eth->h_dest[0] & 1) || !(r = conn_is_ours(data, end, 1, 0, NULL, NULL, NULL)))
		return 0;
	/* A packet of a connection it has, from a port without port security: it was opened from
	 * such a MAC (nothing more to check, as before; a restart's adopted ones need no key). */
	if (r == 1 && !(flags & VFP_CFG_PORT_SECURITY))
		return 1;
	if ((void *)((__u8 *)data + 34) > end)
		return 0;
	__builtin_memcpy(sk.mac, eth->h_source, 6);
	sk.kind = VFP_SRC_CONN;
	/* Without port security, any address from such a MAC (its key's address is 0). */
	if (flags & VFP_CFG_PORT_SECURITY)
		__builtin_memcpy(&sk.ip, (__u8 *)data + 26, 4);
	return bpf_map_lookup_elem(&vfp_src, &sk) != NULL;
}

/* Underlay: a tunnel frame whose inner frame belongs to a connection the fast path owns (a
 * backend's reply coming back to the client's node, a remote client's packet to a local
 * backend), or opens one to a local backend's listener (not when held). */
static __always_inline int tunnel_conn_is_ours(void *data, void *end, int held)
{
	struct vfp_target_key tk = {}, from = {};
	__u8 *hdr, *inner = tunnel_inner(data, end, &hdr);

	if (!inner)
		return 0;
	if (conn_is_ours(inner, end, 0, held, held ? NULL : &tk, &from, hdr))
		return 1;
	if (held || !tk.proto)
		return 0;
	tk.vni = from.vni = ((__u32)hdr[4] << 16) | ((__u32)hdr[5] << 8) | hdr[6];
	if (!bpf_map_lookup_elem(&vfp_target, &tk))
		return 0;
	return tk.proto != IPPROTO_UDP || !bpf_map_lookup_elem(&vfp_target, &from);
}

/*
 * One program per role, each with only its own paths: the verifier walks every path of a
 * program at each load, and a runner loads one per interface. Both roles in one program
 * took 9,008 verified instructions (518 states) per load, 13 ms of the 20 ms a load took;
 * each role alone takes 1,695 (VM) or 1,228 (underlay; 1,782 before its mode checks were folded into underlay_takes).
 */

/*
 * When the socket took nothing (XDP_PASS as bpf_redirect_map's fallback: no socket on this
 * queue, no loss): whether frames of a connection the fast path owns are held here. The
 * runner is gone or not bound yet: a TCP connection the fast path owns waits for it while
 * the hold lasts (see vfp_cfg), but not a passthrough one, which OVS switches as well. A UDP
 * flow goes to OVS meanwhile: its conntrack takes a flow up at any datagram, deals it to the
 * same backend (the same slot table) and un-DNATs the replies, with nothing to reset; the
 * next runner takes it back.
 */
static __always_inline int holding(struct xdp_md *ctx, const struct vfp_cfg *cfg)
{
	return ctx->rx_queue_index == cfg->queue && bpf_ktime_get_ns() < cfg->hold_until;
}

/* Whether a VM NIC's frame is the fast path's (mode 1: all; 3: filtered). L2 keys first: in a
 * network without load balancers the connection lookups are never paid. */
static __always_inline int vm_takes(void *data, void *end, const struct vfp_cfg *cfg)
{
	return cfg->mode != 3 || vm_frame_is_ours(data, end, cfg) || vm_conn_is_ours(data, end, cfg->flags);
}

/* Whether an underlay frame is (mode 2: VXLAN/GENEVE; 4: filtered). */
static __always_inline int underlay_takes(void *data, void *end, const struct vfp_cfg *cfg)
{
	if (cfg->mode == 2)
		return underlay_is_ours(data, end);
	return cfg->mode != 4 || tunnel_frame_is_ours(data, end) || tunnel_conn_is_ours(data, end, 0);
}

/* Both roles' program; `vm` is a constant in each, so each keeps only its own paths. */
static __always_inline int filter(struct xdp_md *ctx, const int vm)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	struct vfp_cfg *cfg = bpf_map_lookup_elem(&vfp_cfg, &zero);

	if (!cfg || cfg->mode == 0)
		return XDP_PASS;
	if (!(vm ? vm_takes(data, end, cfg) : underlay_takes(data, end, cfg)))
		return XDP_PASS;
	if (bpf_redirect_map(&vfp_xsks, ctx->rx_queue_index, XDP_PASS) == XDP_REDIRECT)
		return XDP_REDIRECT;
	if ((vm ? cfg->mode == 3 : cfg->mode == 4) && holding(ctx, cfg) &&
	    (vm ? conn_is_ours(data, end, 0, 1, NULL, NULL, NULL) : tunnel_conn_is_ours(data, end, 1)))
		return XDP_DROP;
	return XDP_PASS;
}

/* VM-facing (modes 0, 1, 3). */
SEC("xdp")
int vfp_xdp_vm(struct xdp_md *ctx)
{
	return filter(ctx, 1);
}

/* The underlay (modes 0, 2, 4). */
SEC("xdp")
int vfp_xdp_underlay(struct xdp_md *ctx)
{
	return filter(ctx, 0);
}

/* An XDP_PASS program for veth peers: redirect into a veth needs one on the peer. */
SEC("xdp")
int vfp_xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
