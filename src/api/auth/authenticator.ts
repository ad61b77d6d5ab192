import type { AccessToken } from '../../admission/access-token.admission';
import type { ObjectEvent, ObjectStore } from '../../store/object-store';
import { GoneError, StoreClosedError, type StoreError, type Watch } from '../../store/store';
import { isTokenPrincipal, tokenPrincipal, type Principal } from './principal';
import { parseToken, statusAccepts } from './token';

import { ACCESS_TOKENS } from '../../store/kinds';

export { ACCESS_TOKENS };

/** Verified tokens kept at most this long, whatever the watch says (as kube-apiserver's token cache). */
const VERIFIED_TTL_MS = 10_000;
/** Bound on remembered tokens; the map starts over when full. */
const VERIFIED_MAX = 1024;

/**
 * Resolves an Authorization header to a Principal, or undefined (-> 401).
 *
 * Every request presents the same few tokens, and checking one costs a store read and a
 * SHA-256: a token once verified is remembered (only successes). Any change to any
 * AccessToken forgets them all: the watch on the kind (on SQLite it runs at the commit,
 * before the deleting request is answered; on etcd, as its event arrives) and forget(),
 * which the API calls when it writes a token itself. The TTL bounds what a broken watch
 * could leave behind.
 */
export class TokenAuthenticator {
  private readonly verified = new Map<string, { principal: Principal; until: number }>();
  private watch?: Watch;
  /** Bumped by forget(): a check that read the token before a change must not remember it. */
  private generation = 0;
  /** Told the name of each AccessToken changed or deleted (onTokenChange). */
  private changed?: (name: string | undefined) => void;
  /** The revision of the last AccessToken event seen, from which a lost watch resumes. */
  private lastRevision?: number;

  constructor(
    private readonly objects: ObjectStore,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts remembering verified tokens (without it every request checks the store). */
  start(): void {
    if (this.watch) return;
    this.watchFrom(undefined);
  }

  /**
   * The watch of AccessTokens, from `after` (undefined: from now). Ended by the store (etcd),
   * it starts again where it was, so that no change goes unreported to onTokenChange; where
   * that history is gone (compacted), or none was seen to resume from, every token is
   * reported changed: a token deleted meanwhile must not keep its open watches.
   */
  private watchFrom(after: number | undefined): void {
    const onEvent = (ev: ObjectEvent<AccessToken>) => {
      this.lastRevision = ev.revision;
      this.forget();
      this.changed?.(ev.object.metadata.name);
    };
    let watch: Watch;
    try {
      watch = this.objects.watch<AccessToken>(ACCESS_TOKENS, undefined, after, onEvent, {
        // Unless stopped meanwhile: the report comes after a probe of the store.
        onError: (err) => (this.watch === watch ? this.restart(err) : undefined),
      });
    } catch (err) {
      if (!(err instanceof GoneError) || after === undefined) throw err;
      this.watchFrom(undefined);
      this.changed?.(undefined);
      return;
    }
    this.watch = watch;
  }

  private restart(err: StoreError): void {
    // A revoked token could stay verified: start over (unless the store is closing).
    this.watch?.stop();
    this.watch = undefined;
    this.forget();
    if (err instanceof StoreClosedError) return;
    const from = err instanceof GoneError ? undefined : this.lastRevision;
    this.watchFrom(from);
    if (from === undefined) this.changed?.(undefined);
  }

  /**
   * Calls `cb` with the name of every AccessToken that changes or goes, as the store reports
   * it on every replica, or with undefined when any may have changed unseen (the store lost
   * the watch's history): what was decided with the token before (an open watch) is to be
   * decided again.
   */
  onTokenChange(cb: (name: string | undefined) => void): void {
    this.changed = cb;
  }

  stop(): void {
    this.watch?.stop();
    this.watch = undefined;
    this.lastRevision = undefined;
    this.forget();
  }

  forget(): void {
    this.generation++;
    this.verified.clear();
  }

  /**
   * The principal of an AccessToken's holder by its principal name (`token:NAME`), without its
   * secret: whom an admin impersonates (impersonation.ts). Undefined for any other name, and
   * for a token that is gone or being deleted.
   */
  async holder(user: string): Promise<Principal | undefined> {
    if (!isTokenPrincipal(user)) return undefined;
    const name = user.slice(tokenPrincipal('').length);
    const tok = await this.objects.get<AccessToken>(ACCESS_TOKENS, undefined, name);
    return tok && !tok.metadata.deletionTimestamp ? principalOfToken(name, tok) : undefined;
  }

  async authenticate(authorization: string | undefined): Promise<Principal | undefined> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return undefined;
    const token = m[1]!;
    const hit = this.verified.get(token);
    if (hit && hit.until > this.now()) return hit.principal;
    const parsed = parseToken(token);
    if (!parsed) return undefined;
    const generation = this.generation;
    const tok = await this.objects.get<AccessToken>(ACCESS_TOKENS, undefined, parsed.name);
    if (!tok || tok.metadata.deletionTimestamp || !statusAccepts(tok.status, parsed.secret)) {
      this.verified.delete(token);
      return undefined;
    }
    const principal = principalOfToken(parsed.name, tok);
    if (this.watch && generation === this.generation) {
      if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
      this.verified.set(token, { principal, until: this.now() + VERIFIED_TTL_MS });
    }
    return principal;
  }
}

/** What an AccessToken lets its holder do. */
function principalOfToken(name: string, tok: AccessToken): Principal {
  return {
    name: tokenPrincipal(name),
    admin: tok.spec?.admin === true,
    namespaces: new Set(tok.spec?.namespaces ?? []),
    ...(tok.spec?.node !== undefined && tok.spec.admin !== true ? { node: tok.spec.node } : {}),
  };
}
