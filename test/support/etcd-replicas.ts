/** Controller replicas in this process on one private etcd, for tests of what replicas share. */
import pino from 'pino';
import { startVnetd, type RunningVnetd } from '../../src/app/vnetd';
import { startEtcd, type EtcdInstance } from '../harness/etcd';
import { scratchDir } from './scratch';
import { httpsCall, type ApiResponse, type CallOptions } from './vnetd';

export interface EtcdReplicas {
  etcd: EtcdInstance;
  replicas: RunningVnetd[];
  /** A call to one replica, as its admin unless `opts.token` says otherwise. */
  call(v: RunningVnetd, method: string, path: string, body?: unknown, opts?: CallOptions): Promise<ApiResponse>;
  stop(): Promise<void>;
}

export async function startEtcdReplicas(label: string, count = 2): Promise<EtcdReplicas> {
  const etcd = await startEtcd();
  const store = { kind: 'etcd' as const, endpoints: [etcd.endpoint] };
  const replicas: RunningVnetd[] = [];
  const stop = async () => {
    for (const v of [...replicas].reverse()) await v.close();
    await etcd.stop();
  };
  try {
    for (let i = 0; i < count; i++) {
      replicas.push(
        await startVnetd(
          { dataDir: scratchDir(`vnetd-${label}-${i}`), host: '127.0.0.1', port: 0, logLevel: 'silent', workers: 1, chassis: false, store },
          { logger: pino({ level: 'silent' }), role: 'controller' },
        ),
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const call = (v: RunningVnetd, method: string, path: string, body?: unknown, opts: CallOptions = {}) => httpsCall(v.url, v.caCertPem, method, path, body, { defaultToken: v.adminToken, ...opts });
  return { etcd, replicas, call, stop };
}
