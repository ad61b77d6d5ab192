/**
 * Impersonation (`kubectl --as=USER --as-group=GROUP`, the Impersonate-* headers), as
 * kube-apiserver does it: the request runs as the user named, if the caller may impersonate;
 * otherwise it is refused. Before, vnetd ignored the headers and ran the request as the
 * caller: `kubectl auth can-i --as=token:carol` answered for the admin, and a GitOps tool
 * holding the admin token while impersonating a tenant applied that tenant's manifests with
 * admin rights anywhere (QA-134 F10).
 *
 * Who may impersonate: admins (kube's `impersonate` verb, which vnetd's roles have no finer
 * grain for). Whom: an AccessToken's holder (`token:NAME`) is that token's principal, with its
 * namespaces or node; any other user name is a principal with no rights (as a user without
 * role bindings), and so is a token not in force. Groups grant nothing, except system:masters,
 * which makes the impersonated principal an admin as in Kubernetes (only an admin can ask).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ApiErrors } from '../../resources/status';
import type { Principal } from './principal';

const USER = 'impersonate-user';
const GROUP = 'impersonate-group';
const UID = 'impersonate-uid';
const EXTRA_PREFIX = 'impersonate-extra-';
const MASTERS = 'system:masters';

export interface Impersonation {
  user: string;
  groups: string[];
}

/** The impersonation a request asks for, undefined when it carries no Impersonate-* header. */
export function impersonationOf(headers: IncomingHttpHeaders): Impersonation | undefined {
  const asks = Object.keys(headers).some((h) => h === USER || h === GROUP || h === UID || h.startsWith(EXTRA_PREFIX));
  if (!asks) return undefined;
  const user = [headers[USER]].flat().filter((u): u is string => typeof u === 'string');
  if (user.length !== 1 || user[0]!.trim() === '') {
    // kube-apiserver: groups, uid or extras without a user to impersonate are refused.
    throw ApiErrors.badRequest(user.length > 1 ? 'only one Impersonate-User header may be sent' : 'requested impersonation of groups, a uid or extra fields without impersonating a user (Impersonate-User)');
  }
  const groups = [headers[GROUP]].flat().flatMap((g) => (typeof g === 'string' ? g.split(',').map((x) => x.trim()) : [])).filter((g) => g !== '');
  return { user: user[0]!.trim(), groups };
}

/**
 * The principal the request runs as. `caller` must be allowed to impersonate (an admin);
 * `holderOf` gives an AccessToken holder's principal by user name (undefined for any
 * other name, or a token not in force).
 */
export async function impersonate(caller: Principal, asked: Impersonation, holderOf: (user: string) => Promise<Principal | undefined>): Promise<Principal> {
  if (!caller.admin) {
    throw ApiErrors.forbidden({ kind: 'users', group: '', name: asked.user }, `User "${caller.name}" cannot impersonate resource "users" in API group "" at the cluster scope`);
  }
  const as: Principal = (await holderOf(asked.user)) ?? { name: asked.user, admin: false, namespaces: new Set() };
  if (asked.groups.includes(MASTERS)) return { name: as.name, admin: true, namespaces: as.namespaces, via: caller.name };
  return { ...as, via: caller.name };
}
