import { canonicalIp, tryParseIp } from '../ipam';
import type { HypervisorNode } from '../resources/kinds';
import type { StatusCause } from '../resources/status';
import { AdmissionError, type Admitted, type KindAdmission } from './admission';

const OVSDB_ENDPOINT = /^(unix:\/.+|(tcp|ssl):(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5})$/;

function validate(node: HypervisorNode): void {
  const causes: StatusCause[] = [];
  const spec = node.spec!;
  if (!tryParseIp(spec.tunnelIP)) {
    causes.push({ field: 'spec.tunnelIP', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.tunnelIP}": must be a valid IP address` });
  } else spec.tunnelIP = canonicalIp(spec.tunnelIP);
  if (spec.ovsdb !== undefined && !OVSDB_ENDPOINT.test(spec.ovsdb)) {
    causes.push({ field: 'spec.ovsdb', reason: 'FieldValueInvalid', message: `Invalid value: "${spec.ovsdb}": must be unix:/PATH, tcp:HOST:PORT or ssl:HOST:PORT` });
  }
  if (causes.length > 0) throw new AdmissionError(causes);
}

export class NodeAdmission implements KindAdmission<HypervisorNode> {
  readonly finalizers: string[] = [];

  async create(node: HypervisorNode): Promise<Admitted<HypervisorNode>> {
    validate(node);
    return { object: node, ops: [] };
  }

  async update(_old: HypervisorNode, next: HypervisorNode): Promise<Admitted<HypervisorNode>> {
    validate(next);
    return { object: next, ops: [] };
  }
}
