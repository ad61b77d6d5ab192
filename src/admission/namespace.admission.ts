import type { KubeObject } from '../resources/object';
import { type Admitted, type KindAdmission } from './admission';

import { NAMESPACE_FINALIZER } from '../resources/finalizers';

export { NAMESPACE_FINALIZER };

export type Namespace = KubeObject<{ finalizers?: string[] }, { phase?: 'Active' | 'Terminating' }>;

/** Namespaces carry a finalizer so their contents are deleted before they go. */
export class NamespaceAdmission implements KindAdmission<Namespace> {
  readonly finalizers = [NAMESPACE_FINALIZER];

  async create(ns: Namespace): Promise<Admitted<Namespace>> {
    ns.spec = { finalizers: ['kubernetes'] };
    ns.status = { phase: 'Active' };
    return { object: ns, ops: [] };
  }

  async update(old: Namespace, next: Namespace): Promise<Admitted<Namespace>> {
    next.spec = old.spec;
    return { object: next, ops: [] };
  }
}
