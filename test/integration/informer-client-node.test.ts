/**
 * The official Kubernetes JavaScript client's informer (list + watch) against vnetd:
 * it must see adds, updates and deletes in order, as it would against a real apiserver.
 */
import * as k8s from '@kubernetes/client-node';
import { startTestVnetd, eventually, type TestVnetd } from '../support/vnetd';

const G = '/apis/vnet.dev/v1alpha1';
let v: TestVnetd;

beforeAll(async () => {
  v = await startTestVnetd();
  await v.call('POST', '/api/v1/namespaces', { metadata: { name: 'inf' } });
  await v.call('POST', `${G}/namespaces/inf/virtualnetworks`, { metadata: { name: 'pre' }, spec: { subnets: [{ cidr: '10.0.0.0/24' }] } });
});
afterAll(async () => v.stop());

it('sees adds, updates and deletes in order', async () => {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(v.kubeconfigPath);
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const list = () =>
    api.listNamespacedCustomObject({ group: 'vnet.dev', version: 'v1alpha1', namespace: 'inf', plural: 'virtualnetworks' }) as unknown as Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>;
  const informer = k8s.makeInformer(kc, `${G}/namespaces/inf/virtualnetworks`, list);
  const seen: string[] = [];
  informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
  informer.on('update', (o) => seen.push(`update ${o.metadata?.name} ${JSON.stringify(o.metadata?.labels ?? {})}`));
  informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
  const errors: unknown[] = [];
  informer.on('error', (e) => errors.push(e));
  await informer.start();
  try {
    await eventually(async () => seen.includes('add pre'));
    await v.call('POST', `${G}/namespaces/inf/virtualnetworks`, { metadata: { name: 'n1' }, spec: { subnets: [{ cidr: '10.1.0.0/24' }] } });
    await eventually(async () => seen.includes('add n1'));
    await v.call('PATCH', `${G}/namespaces/inf/virtualnetworks/n1`, { metadata: { labels: { step: 'two' } } }, { contentType: 'application/merge-patch+json' });
    await eventually(async () => seen.some((s) => s === 'update n1 {"step":"two"}'));
    await v.call('DELETE', `${G}/namespaces/inf/virtualnetworks/n1`);
    await eventually(async () => seen.includes('delete n1'), 10000);
    const mine = seen.filter((s) => s.includes(' n1'));
    expect(mine[0]).toBe('add n1');
    expect(mine[mine.length - 1]).toBe('delete n1');
    expect(mine.indexOf('update n1 {"step":"two"}')).toBeGreaterThan(0);
    expect(informer.list('inf').map((o) => o.metadata?.name)).toEqual(['pre']);
    expect(errors).toEqual([]);
  } finally {
    await informer.stop();
  }
});
