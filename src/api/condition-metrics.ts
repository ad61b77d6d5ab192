/**
 * Objects' conditions in /metrics, as kube-state-metrics gives Kubernetes objects': how many
 * objects of each kind stand in each condition (by status and reason), and one series per
 * object whose Ready is not True, naming it and why. Alerting on "a port is not Ready" or
 * "a node's tunnels are down" needed a watch on every kind (QA-126 M4).
 *
 * Read from the store at scrape time, once per scrape for every series below; a store that
 * does not answer leaves the last figures (a failed collect fails the whole scrape).
 */
import { Gauge, type Registry } from 'prom-client';
import type { KubeObject } from '../resources/object';
import { readOncePerScrape } from './scrape-read';

export interface ConditionSource {
  /** Every object of each kind that has conditions, by its kind's name (VirtualPort...). */
  objects(): Promise<ReadonlyArray<{ kind: string; items: readonly KubeObject[] }>>;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
}

/** A condition's statuses as kube-state-metrics labels them. */
const CONDITION_STATUSES = ['true', 'false', 'unknown'] as const;

const conditionsOf = (o: KubeObject): readonly Condition[] => ((o.status as { conditions?: Condition[] } | undefined)?.conditions ?? []);

export function registerConditionMetrics(registry: Registry, source: ConditionSource): void {
  const registers = [registry];
  const read = readOncePerScrape<ReadonlyArray<{ kind: string; items: readonly KubeObject[] }>>(() => source.objects(), []);
  new Gauge({
    name: 'vnetd_objects_by_condition',
    help: 'Objects of a kind standing in a condition, by its status and reason (Ready, Bound, TunnelsUp...).',
    labelNames: ['kind', 'condition', 'status', 'reason'],
    registers,
    async collect() {
      const all = await read();
      this.reset();
      const counts = new Map<string, { labels: Record<string, string>; n: number }>();
      for (const { kind, items } of all) {
        for (const o of items) {
          for (const c of conditionsOf(o)) {
            const labels = { kind, condition: c.type, status: c.status, reason: c.reason ?? '' };
            const k = JSON.stringify(labels);
            const e = counts.get(k);
            if (e) e.n++;
            else counts.set(k, { labels, n: 1 });
          }
        }
      }
      for (const { labels, n } of counts.values()) this.set(labels, n);
    },
  });
  // kube-state-metrics' kube_node_status_condition: per node and condition, 1 on the status it
  // stands in and 0 on the other two, so "TunnelsUp false on hv3" is one series to alert on
  // and a node whose condition recovers is seen going to 0 (QA-131 F11: counts by kind only).
  new Gauge({
    name: 'vnetd_node_status_condition',
    help: 'A Node\'s condition (Ready, Connected, TunnelsUp, ConntrackPressure...): 1 for the status it stands in (true, false, unknown), 0 for the others.',
    labelNames: ['node', 'condition', 'status'],
    registers,
    async collect() {
      const all = await read();
      this.reset();
      for (const { kind, items } of all) {
        if (kind !== 'Node') continue;
        for (const o of items) {
          for (const c of conditionsOf(o)) {
            for (const status of CONDITION_STATUSES) this.set({ node: o.metadata.name, condition: c.type, status }, Number(c.status.toLowerCase() === status));
          }
        }
      }
    },
  });
  new Gauge({
    name: 'vnetd_object_not_ready',
    help: 'An object whose Ready condition is not True (1), with its reason: one series per such object, none for the others.',
    labelNames: ['kind', 'namespace', 'name', 'reason'],
    registers,
    async collect() {
      const all = await read();
      this.reset();
      for (const { kind, items } of all) {
        for (const o of items) {
          const ready = conditionsOf(o).find((c) => c.type === 'Ready');
          if (ready && ready.status !== 'True') this.set({ kind, namespace: o.metadata.namespace ?? '', name: o.metadata.name, reason: ready.reason ?? '' }, 1);
        }
      }
    },
  });
}
