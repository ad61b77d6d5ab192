/**
 * Where agents program the nodes, the leader keeps one NodeRealization per Node (same
 * name): created with the Node, deleted with it (and re-created if someone deletes it
 * while its Node lives). The agent only writes its status; a Node re-created under an old
 * name starts from an empty report, never from the previous node's.
 */
import type { Logger } from 'pino';
import type { HypervisorNode, NodeRealization } from '../../resources/kinds';
import { GROUP, VERSION } from '../../resources/kinds';
import { objectKey } from '../../store/keys';
import { NODES, NODE_REALIZATIONS } from '../../store/kinds';
import type { ObjectStore } from '../../store/object-store';
import { KeyExistsError, KeyNotFoundError } from '../../store/store';
import { Controller } from '../controller';
import type { Informer } from '../informer';
import type { SharedInformers } from '../shared-informers';
import { parseObjectKey } from './object-keys';

export class NodeRealizationReconciler {
  private readonly nodes: Informer<HypervisorNode>;
  private readonly realizations: Informer<NodeRealization>;
  private readonly controller: Controller;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly objects: ObjectStore,
    informers: SharedInformers,
    logger: Logger,
  ) {
    this.nodes = informers.of<HypervisorNode>(NODES);
    this.realizations = informers.of<NodeRealization>(NODE_REALIZATIONS);
    this.controller = new Controller({ name: 'node-realizations', logger: logger.child({ component: 'node-realizations' }), reconcile: (name) => this.reconcile(name) });
    // Keyed by name: a Node and its NodeRealization share it.
    const byName = (kind: typeof NODES) => (_o: unknown, key: string) => [parseObjectKey(kind, key)?.name ?? ''];
    this.unsubscribe.push(this.controller.watch(this.nodes, byName(NODES)), this.controller.watch(this.realizations, byName(NODE_REALIZATIONS)));
  }

  async start(): Promise<void> {
    this.nodes.start();
    this.realizations.start();
    await Promise.all([this.nodes.waitForSync(), this.realizations.waitForSync()]);
    this.controller.start();
  }

  /** Removes its handlers; the shared informers are their owner's to stop. */
  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    await this.controller.stop();
  }

  private async reconcile(name: string): Promise<void> {
    if (!name) return;
    const node = this.nodes.get(objectKey(NODES, undefined, name));
    const realization = this.realizations.get(objectKey(NODE_REALIZATIONS, undefined, name));
    if (node && !realization) {
      const fresh: NodeRealization = { apiVersion: `${GROUP}/${VERSION}`, kind: 'NodeRealization', metadata: { name }, spec: {} };
      await this.objects.create(NODE_REALIZATIONS, fresh).catch((err: unknown) => {
        if (!(err instanceof KeyExistsError)) throw err;
      });
    } else if (!node && realization) {
      await this.objects.delete(NODE_REALIZATIONS, undefined, name).catch((err: unknown) => {
        if (!(err instanceof KeyNotFoundError)) throw err;
      });
    }
  }
}
