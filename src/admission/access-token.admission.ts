import type { KubeObject } from '../resources/object';
import type { StatusCause } from '../resources/status';
import { AdmissionError, type Admitted, type KindAdmission } from './admission';
import { dns1123LabelError } from './names';

export interface AccessTokenSpec {
  admin?: boolean;
  namespaces?: string[];
}

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
  if (!tok.spec.admin && (tok.spec.namespaces ?? []).length === 0) {
    causes.push({ field: 'spec.namespaces', reason: 'FieldValueRequired', message: 'Required value: a non-admin token needs at least one namespace' });
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
