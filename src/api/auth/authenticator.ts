import type { AccessToken } from '../../admission/access-token.admission';
import type { ObjectStore } from '../../store/object-store';
import type { Principal } from './principal';
import { parseToken, secretMatches } from './token';

import { ACCESS_TOKENS } from '../../store/kinds';

export { ACCESS_TOKENS };

/** Resolves an Authorization header to a Principal, or undefined (-> 401). */
export class TokenAuthenticator {
  constructor(private readonly objects: ObjectStore) {}

  async authenticate(authorization: string | undefined): Promise<Principal | undefined> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return undefined;
    const parsed = parseToken(m[1]!);
    if (!parsed) return undefined;
    const tok = await this.objects.get<AccessToken>(ACCESS_TOKENS, undefined, parsed.name);
    if (!tok || tok.metadata.deletionTimestamp || !secretMatches(parsed.secret, tok.status?.tokenHash)) return undefined;
    return {
      name: `token:${parsed.name}`,
      admin: tok.spec?.admin === true,
      namespaces: new Set(tok.spec?.namespaces ?? []),
    };
  }
}
