import type { KubeObject } from '../resources/object';
import type { Admitted, KindAdmission } from './admission';

/**
 * Kinds whose schema says all there is to check (NodeRealization, NodeLease): written by
 * vnetd's own processes, and by hand only to repair them.
 */
export class PlainAdmission implements KindAdmission {
  readonly finalizers: string[] = [];

  async create(obj: KubeObject): Promise<Admitted<KubeObject>> {
    return { object: obj, ops: [] };
  }

  async update(_old: KubeObject, next: KubeObject): Promise<Admitted<KubeObject>> {
    return { object: next, ops: [] };
  }
}
