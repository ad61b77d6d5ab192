import { namespaceUsage, quotaStatus } from '../quota/namespace-usage';
import { QUOTA_RESOURCE_NAMES, parseQuantity, quotaResourceOf } from '../quota/resources';
import type { ResourceQuota } from '../resources/kinds';
import type { StatusCause } from '../resources/status';
import { AdmissionError, type AdmissionContext, type Admitted, type KindAdmission } from './admission';

/**
 * A ResourceQuota names only resources vnetd counts, with whole numbers. kube-apiserver takes
 * any name and enforces nothing for one it does not know: a typo there
 * (count/virtualport.vnet.dev) is a quota that silently limits nothing, so here it is refused
 * with the names there are. A new quota starts with the namespace's usage as status, so that
 * `kubectl describe quota` reads it at once and the first write charged against it has it.
 */
export class ResourceQuotaAdmission implements KindAdmission<ResourceQuota> {
  readonly finalizers: string[] = [];

  async create(quota: ResourceQuota, ctx: AdmissionContext): Promise<Admitted<ResourceQuota>> {
    checkHard(quota);
    quota.status = quotaStatus(quota, await namespaceUsage(ctx.objects, quota.metadata.namespace!));
    return { object: quota, ops: [] };
  }

  async update(_old: ResourceQuota, next: ResourceQuota): Promise<Admitted<ResourceQuota>> {
    checkHard(next);
    return { object: next, ops: [] };
  }
}

function checkHard(quota: ResourceQuota): void {
  const causes: StatusCause[] = [];
  for (const [name, value] of Object.entries(quota.spec?.hard ?? {})) {
    const field = `spec.hard[${name}]`;
    if (quotaResourceOf(name) === undefined) {
      causes.push({ field, reason: 'FieldValueNotSupported', message: `Unsupported value: "${name}": vnetd counts ${[...QUOTA_RESOURCE_NAMES.keys()].map((n) => `"${n}"`).join(', ')}` });
      continue;
    }
    const q = parseQuantity(value);
    if ('error' in q) causes.push({ field, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${q.error}` });
  }
  if (causes.length > 0) throw new AdmissionError(causes);
}
