import type { KubeObject } from '../resources/object';
import type { StatusCause } from '../resources/status';
import { AdmissionError, type Admitted, type KindAdmission } from './admission';
import { dns1123LabelError, dns1123SubdomainError } from './names';

export interface AccessTokenSpec {
  admin?: boolean;
  namespaces?: string[];
  /** An agent's token: the Node it acts for, or ANY_NODE (see schemas/accesstoken.schema.json). */
  node?: string;
}

/** spec.node of a token that every node's agent may share (a DaemonSet's one Secret). */
export const ANY_NODE = '*';

export interface AccessTokenStatus {
  tokenHash?: string;
  previousTokenHashes?: string[];
  token?: string;
}

export type AccessToken = KubeObject<AccessTokenSpec, AccessTokenStatus>;

function validate(tok: AccessToken): void {
  const causes: StatusCause[] = [];
  tok.spec ??= {};
  tok.spec.admin ??= false;
  (tok.spec.namespaces ?? []).forEach((ns, i) => {
    const why = dns1123LabelError(ns);
    if (why) causes.push({ field: `spec.namespaces[${i}]`, reason: 'FieldValueInvalid', message: `Invalid value: "${ns}": ${why}` });
  });
  const node = tok.spec.node;
  if (node !== undefined) {
    const why = node === ANY_NODE ? undefined : dns1123SubdomainError(node);
    if (why) causes.push({ field: 'spec.node', reason: 'FieldValueInvalid', message: `Invalid value: "${node}": ${why} (or "${ANY_NODE}" for every node's agents)` });
    // One role per token: an agent's rights are narrower than either, and a mix would be read as the wider.
    if (tok.spec.admin) causes.push({ field: 'spec.admin', reason: 'FieldValueForbidden', message: 'Forbidden: an agent\'s token (spec.node) cannot also be admin' });
    if ((tok.spec.namespaces ?? []).length > 0) causes.push({ field: 'spec.namespaces', reason: 'FieldValueForbidden', message: 'Forbidden: an agent\'s token (spec.node) is not a tenant\'s: leave namespaces out' });
  } else if (!tok.spec.admin && (tok.spec.namespaces ?? []).length === 0) {
    causes.push({ field: 'spec.namespaces', reason: 'FieldValueRequired', message: 'Required value: a token that is neither admin nor an agent\'s (spec.node) needs at least one namespace' });
  }
  if (causes.length > 0) throw new AdmissionError(causes);
}

/** The secret is minted by the API service (it must be shown once); admission only validates. */
export class AccessTokenAdmission implements KindAdmission<AccessToken> {
  readonly finalizers: string[] = [];

  async create(tok: AccessToken): Promise<Admitted<AccessToken>> {
    validate(tok);
    return { object: tok, ops: [] };
  }

  async update(old: AccessToken, next: AccessToken): Promise<Admitted<AccessToken>> {
    validate(next);
    next.status = old.status;
    return { object: next, ops: [] };
  }
}
