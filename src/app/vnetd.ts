/**
 * The composition root: opens the store, builds the layers bottom-up (store -> admission
 * -> API; store -> reconcilers), and serves HTTPS. main.ts and the tests both use it.
 *
 * Two roles share it. All-in-one (`vnetd`): SQLite, the embedded OVS, and the reconcilers
 * from the start. Controller (`vnetd controller`): the store VNETD_STORE names, no local
 * OVS, the API on every replica and the reconcilers only on the elected leader (see
 * leader-election.ts and leader-work.ts); hypervisors are programmed by agents, or by the
 * leader itself with VNETD_CHASSIS=1.
 */
import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { Http2Session } from 'node:http2';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { closeIdleConnections, HANDSHAKE_TIMEOUT_MS, IDLE_CONNECTION_MS } from './idle-connections';
import pino, { type Logger } from 'pino';
import type { KindAdmission } from '../admission/admission';
import { PlainAdmission } from '../admission/plain.admission';
import { ResourceQuotaAdmission } from '../admission/resource-quota.admission';
import { AccessTokenAdmission } from '../admission/access-token.admission';
import { LoadBalancerAdmission } from '../admission/load-balancer.admission';
import { NamespaceAdmission } from '../admission/namespace.admission';
import { NodeAdmission } from '../admission/node.admission';
import { VirtualNetworkAdmission } from '../admission/virtual-network.admission';
import { VirtualPortAdmission } from '../admission/virtual-port.admission';
import { ApiModule } from '../api/api.module';
import { TokenAuthenticator } from '../api/auth/authenticator';
import { isTokenPrincipal, tokenPrincipal } from '../api/auth/principal';
import { MetricsService } from '../api/metrics.service';
import { installRequestHooks } from '../api/request-hooks';
import { API_MEDIA_TYPES, BODY_LIMIT } from '../api/request-body';
import { ResourceService } from '../api/resource.service';
import { WatchService } from '../api/watch.service';
import type { ChassisManager } from '../chassis/chassis-manager';
import { registerLocalNode, startLocalOvs, type LocalOvs } from '../chassis/local-ovs';
import { AllocationRegistry } from '../ipam/allocation-registry';
import { ensureTlsMaterial } from '../pki/certificates';
import type { PipelineReconciler } from '../reconcile/kinds/pipeline.reconciler';
import { FastPathNodes } from '../reconcile/kinds/fastpath.nodes';
import { registerFastPathMetrics } from '../api/fastpath-metrics';
import { registerConntrackMetrics } from '../api/conntrack-metrics';
import { registerOpenFlowMetrics } from '../api/openflow-metrics';
import { registerLoadBalancerMetrics } from '../api/loadbalancer-metrics';
import { NAMESPACE_TYPE, ResourceCatalog } from '../resources/catalog';
import type { HypervisorNode, LoadBalancer, VirtualNetwork } from '../resources/kinds';
import type { KubeObject } from '../resources/object';
import { LOAD_BALANCERS, NETWORKS, NODES, PORTS } from '../store/kinds';
import { registerConditionMetrics } from '../api/condition-metrics';
import { ObjectCache } from '../api/object-cache';
import { SchemaValidator } from '../resources/schema-validator';
import { ObjectStore } from '../store/object-store';
import type { Store } from '../store/store';
import { ensureAdminToken, ensureDefaultNamespace, tokenInKubeconfig } from './bootstrap-state';
import type { VnetdConfig } from './config';
import { writeKubeconfig } from './kubeconfig';
import { PinoNestLogger } from './nest-logger';
import type { EtcdLeaderElection } from './leader-election';
import { candidateIdentity, SoleLeader, type Leadership } from './leadership';
import { raiseLeaderGeneration } from './leader-generation';
import { startLeaderWork, type LeaderWork } from './leader-work';
import { switchesSettled } from './switches-settled';
import { etcdClientOptions, fencedStore, openStore } from './open-store';

/** The longest the validators' warm-up waits for the switches to be reprogrammed (see switchesSettled). */
const VALIDATOR_WARMUP_MAX_WAIT_MS = 15_000;
/** The kinds whose conditions /metrics counts (condition-metrics.ts), by their kind's name. */
const CONDITION_KINDS = [['VirtualNetwork', NETWORKS], ['VirtualPort', PORTS], ['LoadBalancer', LOAD_BALANCERS], ['Node', NODES]] as const;

export interface RunningVnetd {
  url: string;
  port: number;
  kubeconfigPath: string;
  adminToken: string;
  caCertPem: string;
  logger: Logger;
  objects: ObjectStore;
  /** The Node reconciler (absent when config.chassis is false, or on a standby controller). */
  chassis?: ChassisManager;
  /** Compiles and installs flows; owns Ready of ports and networks (throws on a standby controller). */
  pipeline: PipelineReconciler;
  /** Whether this process runs the reconcilers. */
  leadership: Leadership;
  /** The embedded OVS (when config.localOvs is on and it started). */
  localOvs?: LocalOvs;
  /**
   * keepLocalOvs: leave the embedded OVS running for the next start (main's SIGTERM does);
   * otherwise it is stopped too. onStep: told each step as it begins (main names the one a
   * stop that overruns its deadline is stuck in).
   */
  close(options?: CloseOptions): Promise<void>;
}

export interface CloseOptions {
  keepLocalOvs?: boolean;
  onStep?: (step: string) => void;
}

export interface StartOptions {
  logger?: Logger;
  /** Watch bookmark period (tests shorten it). */
  bookmarkIntervalMs?: number;
  /** Run the local OVS's ovs-vswitchd in this netns (tests keep its br-int off the host). */
  localOvsNetns?: string;
  /** 'controller': leader election, no local OVS (see the top of this file). Default all-in-one. */
  role?: 'all-in-one' | 'controller';
  /** Leader lease TTL in seconds (controller on etcd). */
  leaseTtlSeconds?: number;
  /** How long an API connection may carry no request (idle-connections.ts; tests shorten it). */
  idleConnectionMs?: number;
  /** WatchSettings.maxWatchesPerTenant (tests lower it). */
  maxWatchesPerTenant?: number;
}

export async function startVnetd(config: VnetdConfig, options: StartOptions = {}): Promise<RunningVnetd> {
  const logger = options.logger ?? pino({ level: config.logLevel, base: { service: 'vnetd' } });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  const role = options.role ?? 'all-in-one';
  const storeConfig = role === 'controller' ? (config.store ?? { kind: 'sqlite' }) : { kind: 'sqlite' as const };
  const kv = await openStore(storeConfig, config.dataDir, logger);
  const objects = new ObjectStore(kv);
  const catalog = ResourceCatalog.load();
  const allocations = new AllocationRegistry(kv);
  const admissions = new Map<string, KindAdmission>([
    ['namespaces', new NamespaceAdmission() as KindAdmission],
    ['virtualnetworks', new VirtualNetworkAdmission(config.underlayMtu) as KindAdmission],
    ['virtualports', new VirtualPortAdmission() as KindAdmission],
    ['loadbalancers', new LoadBalancerAdmission() as KindAdmission],
    ['nodes', new NodeAdmission() as KindAdmission],
    ['accesstokens', new AccessTokenAdmission() as KindAdmission],
    ['noderealizations', new PlainAdmission()],
    ['nodeleases', new PlainAdmission()],
    ['resourcequotas', new ResourceQuotaAdmission() as KindAdmission],
  ]);
  const schemas = new SchemaValidator(catalog);
  // What every write request reads, remembered between requests (see ObjectCache).
  const authenticator = new TokenAuthenticator(objects);
  const namespaceCache = new ObjectCache<KubeObject>(objects, NAMESPACE_TYPE);
  // Admission reads a network's spec and deletion only: its status writes keep the entry.
  const networkCache = new ObjectCache<VirtualNetwork>(objects, NETWORKS, (old, next) => old.metadata.generation !== next.metadata.generation || old.metadata.deletionTimestamp !== next.metadata.deletionTimestamp);
  // A port's node is read for its warning only (does it exist): a new uid or a deletion counts.
  const nodeCache = new ObjectCache<HypervisorNode>(objects, NODES, (old, next) => old.metadata.uid !== next.metadata.uid || old.metadata.deletionTimestamp !== next.metadata.deletionTimestamp);
  const resources = new ResourceService(catalog, objects, schemas, admissions, { objects, allocations, networks: networkCache, nodes: nodeCache }, logger, {
    namespaces: namespaceCache,
    afterWrite: (type, namespace, name) => {
      if (type.kind === 'AccessToken') authenticator.forget();
      else if (type === NAMESPACE_TYPE) namespaceCache.forget(undefined, name);
      else if (type.plural === NETWORKS.plural) networkCache.forget(namespace, name);
      else if (type.plural === NODES.plural) nodeCache.forget(undefined, name);
    },
  });
  const watches = new WatchService(resources, objects, { bookmarkIntervalMs: options.bookmarkIntervalMs ?? 10_000, maxTimeoutSeconds: 1800, maxWatchesPerTenant: options.maxWatchesPerTenant }, logger);
  authenticator.onTokenChange((name) => {
    if (name === undefined) {
      const ended = watches.closeWatchesOf(isTokenPrincipal);
      logger.warn({ event: 'watch.tokens_resynced', ended }, `ended ${ended} watches of AccessTokens: the store lost the history of their changes, so any may have been revoked`);
      return;
    }
    const ended = watches.closeWatchesOf(tokenPrincipal(name));
    if (ended > 0) logger.info({ event: 'watch.token_changed', token: name, ended }, `ended ${ended} watches of AccessToken ${name}: it changed or was deleted`);
  });
  const metrics = new MetricsService(catalog, objects);

  await ensureDefaultNamespace(objects);
  const kubeconfigPath = join(config.dataDir, 'admin.kubeconfig');

  // Hypervisors: the embedded OVS (all-in-one only, optional; the API works without it).
  let localOvs: LocalOvs | undefined;
  if (role === 'all-in-one' && config.localOvs) {
    try {
      localOvs = await startLocalOvs({ dataDir: config.dataDir, logger, netns: options.localOvsNetns });
      await registerLocalNode(objects, localOvs.endpoint, config.localTunnelIP);
    } catch (err) {
      logger.warn({ err, event: 'local-ovs.unavailable' }, 'local Open vSwitch not started; register Nodes pointing at existing OVS instead');
    }
  }

  // The reconcilers: at once (all-in-one, SQLite controller), or when elected (etcd controller).
  let work: LeaderWork | undefined;
  const chassis = config.chassis !== false;
  // The fast path outlives leadership changes: its runners keep forwarding on the tables
  // they have while another replica takes over.
  const fastPath = new FastPathNodes({ objects, logger, enabledByDefault: process.env.VNETD_FASTPATH === '1', statusIntervalMs: Number(process.env.VNETD_FASTPATH_STATUS_MS) || undefined });
  // From the store, which every replica reads (the leader writes load balancer status).
  registerLoadBalancerMetrics(metrics.registry, { loadBalancers: async () => (await objects.list<LoadBalancer>(LOAD_BALANCERS, undefined)).items });
  registerConditionMetrics(metrics.registry, {
    objects: () => Promise.all(CONDITION_KINDS.map(async ([kind, type]) => ({ kind, items: (await objects.list<KubeObject>(type, undefined)).items }))),
  });
  // Only where this process programs switches: with agents, they serve these series (VNETD_METRICS_ADDRESS).
  if (chassis) {
    registerFastPathMetrics(metrics.registry, fastPath);
    // Read through `work`: the pipeline is this leader term's (none while another replica leads).
    registerOpenFlowMetrics(metrics.registry, { flowTables: () => work?.pipeline.flowTables() ?? [] });
    registerConntrackMetrics(metrics.registry, { conntrackUsage: () => work?.chassis?.conntrack.usage() ?? [] });
  }
  const workOptions = { objects, catalog, logger, workers: config.workers, openflowLanes: config.openflowLanes, chassis, agents: role === 'controller' && !chassis, fastPath };
  // With etcd the leader writes through a fenced view of the store (see EtcdStore.fenced),
  // and, programming switches itself, claims them with a new generation (leader-generation.ts).
  const startWork = async (fenceKey?: string) => {
    if (work) return;
    const fenced = fenceKey !== undefined ? await fencedStore(kv, fenceKey) : undefined;
    const leaderObjects = fenced ? new ObjectStore(fenced, undefined, objects.writeRefusals) : objects;
    const generation = fenced && chassis ? await raiseLeaderGeneration(fenced) : undefined;
    const onFenced = fenced && generation !== undefined ? endFencedTerm(fenced, generation) : undefined;
    work = await startLeaderWork({ ...workOptions, objects: leaderObjects, openflowGeneration: generation, ovsdbGeneration: generation, onFenced });
  };
  /** A node's switch or database holds a newer generation than this term's: the term is over, whatever etcd has told us so far. */
  const endFencedTerm = (store: Store, generation: bigint) => {
    let ended = false;
    return (node: string, newer: bigint | undefined, where: 'openflow' | 'ovsdb'): void => {
      if (ended) return;
      ended = true;
      logger.error({ event: 'leader.fenced', node, where, generation: String(generation), newerGeneration: newer === undefined ? undefined : String(newer) }, `node ${node}'s ${where === 'openflow' ? 'switch' : 'database'} holds a newer generation: ending this leader term`);
      void (async () => {
        // Still the leader in the store? Then the node remembers a generation the store
        // never saw (an etcd re-created or restored); the next term starts above it. A
        // deposed leader's raise is refused, as it should be.
        if (newer !== undefined) await raiseLeaderGeneration(store, newer + 1n).catch(() => undefined);
        election?.relinquish(`fenced off by node ${node}'s ${where}`);
      })();
    };
  };
  const stopWork = async () => {
    const w = work;
    work = undefined;
    await w?.stop();
  };
  let election: EtcdLeaderElection | undefined;
  let leadership: Leadership;
  const identity = () => candidateIdentity(`https://${config.host}:${config.port}`);
  if (storeConfig.kind === 'etcd') {
    const { EtcdLeaderElection } = await import('./leader-election');
    election = new EtcdLeaderElection({
      client: etcdClientOptions(storeConfig),
      identity: identity(),
      logger,
      ttlSeconds: options.leaseTtlSeconds,
      onElected: startWork,
      onDeposed: stopWork,
    });
    leadership = election;
  } else {
    await startWork();
    leadership = new SoleLeader(identity());
  }

  metrics.registerLeadership(() => leadership);
  const tls = ensureTlsMaterial(join(config.dataDir, 'pki'), [config.host]);
  // HTTP/2 where the client offers it (ALPN), as kube-apiserver: a client's watches (an
  // agent holds three per network) share one connection instead of one each.
  // maxParamLength: Fastify's own 100 answered a longer name in a path with its own 414
  // body, not a Status; past this, Node's header size limit answers first.
  const idleMs = options.idleConnectionMs ?? IDLE_CONNECTION_MS;
  const https = { allowHTTP1: true, key: tls.keyPem, cert: tls.certPem, handshakeTimeout: Math.min(HANDSHAKE_TIMEOUT_MS, idleMs) };
  const adapter = new FastifyAdapter({ http2: true, https, bodyLimit: BODY_LIMIT, routerOptions: { maxParamLength: 16_384 } });
  const fastify = adapter.getInstance();
  closeIdleConnections(fastify.server, idleMs);
  const sessions = trackSessions(fastify.server);
  // Bodies stay raw buffers: the API decodes them itself, so that malformed JSON,
  // YAML, protobuf and patches all come back as Kubernetes Status objects.
  fastify.removeAllContentTypeParsers();
  // The media types clients send are named as well as '*': Fastify caches the parser of a
  // named type, while the catch-all is looked up again (a parse of the header) per request.
  const keepRaw = (_req: unknown, body: Buffer | string, done: (err: null, body: Buffer | string) => void) => done(null, body);
  fastify.addContentTypeParser([...API_MEDIA_TYPES], { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, keepRaw);
  fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, keepRaw);
  installRequestHooks(fastify, { logger, metrics });

  const app = await NestFactory.create<NestFastifyApplication>(
    ApiModule.forRoot({ logger, catalog, objects, resources, watches, metrics, authenticator, leadership: () => leadership }),
    adapter,
    // bodyParser off: Nest would register its own JSON parser over the buffer parser above,
    // and the API would then stringify and parse each JSON body again.
    { bufferLogs: true, abortOnError: false, bodyParser: false },
  );
  app.useLogger(new PinoNestLogger(logger));
  authenticator.start();
  namespaceCache.start();
  networkCache.start();
  nodeCache.start();
  await app.listen(config.port, config.host);
  const address = fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `https://${host}:${port}`;
  // Only once this replica serves: one that fails to start (its port taken) mints nothing.
  const { token: adminToken, outcome } = await ensureAdminToken(objects, kubeconfigPath, storeConfig.kind === 'etcd');
  if (outcome === 'added') {
    logger.warn(
      { event: 'admin.token_added', kubeconfig: kubeconfigPath },
      `${kubeconfigPath} was missing or not valid: added a new admin secret to the shared store (the other replicas' admin kubeconfigs still work; the four newest secrets are kept). Replicas should share one admin.kubeconfig`,
    );
  } else if (outcome === 'replaced') {
    logger.warn({ event: 'admin.token_replaced', kubeconfig: kubeconfigPath }, `${kubeconfigPath} was missing or not valid: minted a new admin secret; admin kubeconfigs written before no longer authenticate`);
  }
  // Controller replicas share one admin kubeconfig (a shared volume or a mounted Secret):
  // the first writes it, the others leave a valid one alone (it may be read-only, and its
  // server is the address clients should use, not this replica's).
  if (role === 'all-in-one' || tokenInKubeconfig(kubeconfigPath) !== adminToken) writeKubeconfig(kubeconfigPath, url, tls.caCertPem, adminToken);
  // Campaign only once the API serves: a leader is always also a working API replica.
  election?.start();
  // The kinds' validators compile after start-up, between requests (the first request of a
  // kind not compiled yet compiles it itself), once the switches are reprogrammed. A
  // process that programs none (a controller of agents) has nothing to wait for: waiting
  // the whole 15 s there put the compiles into the first burst of requests.
  const settled = chassis ? switchesSettled(() => work?.pipeline.flowTables() ?? [], VALIDATOR_WARMUP_MAX_WAIT_MS) : Promise.resolve();
  void settled.then(() => schemas.warmUp());
  logger.info(
    // codeCache: what the bundle's entry did with V8's code cache (src/app/launch.ts), when it ran.
    { event: 'vnetd.ready', url, kubeconfig: kubeconfigPath, role, store: storeConfig.kind, codeCache: process.env.VNETD_CODE_CACHE_STATE },
    `vnetd is serving ${url}; admin kubeconfig: ${kubeconfigPath} (try: kubectl --kubeconfig ${kubeconfigPath} get vnets -A)`,
  );

  let closed = false;
  return {
    url,
    port,
    kubeconfigPath,
    adminToken,
    caCertPem: tls.caCertPem,
    logger,
    objects,
    get chassis() {
      return work?.chassis;
    },
    get pipeline(): PipelineReconciler {
      if (!work) throw new Error('this vnetd is a standby controller: the leader runs the pipeline');
      return work.pipeline;
    },
    leadership,
    localOvs,
    async close(options: CloseOptions = {}) {
      if (closed) return;
      closed = true;
      const step = options.onStep ?? (() => undefined);
      step('closing the API (its connections and watches)');
      watches.closeAll();
      // On Node 20 an HTTP/2 server's close() waits for its sessions, which stay open until
      // their idle timeout (72 s): they are told to go (GOAWAY) and end once their requests
      // are answered. (Fastify's forceCloseConnections would destroy them, and HTTP/1.1
      // connections with a request in flight too.)
      sessions.closeAll();
      await app.close();
      authenticator.stop();
      namespaceCache.stop();
      networkCache.stop();
      nodeCache.stop();
      step('stopping the reconcilers');
      if (election) await election.stop();
      else await stopWork();
      step('stopping the fast path');
      await fastPath.stop();
      step('leaving or stopping the embedded Open vSwitch');
      if (options.keepLocalOvs) localOvs?.leave();
      else await localOvs?.stop();
      step('closing the store');
      await kv.close();
    },
  };
}

/** The server's open HTTP/2 sessions, to close gracefully on shutdown. */
function trackSessions(server: { on(event: 'session', listener: (session: Http2Session) => void): unknown }): { closeAll(): void } {
  const open = new Set<Http2Session>();
  server.on('session', (session) => {
    open.add(session);
    session.once('close', () => open.delete(session));
  });
  return {
    closeAll: () => {
      for (const session of open) session.close();
    },
  };
}
