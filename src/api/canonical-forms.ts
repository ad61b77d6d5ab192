/**
 * Warnings for values a write stores in another spelling than the client's (QA-134 F6).
 * Admission stores MACs, addresses and CIDRs in their canonical form (lower-case MACs with
 * colons, compressed IPv6, an IPv6 address's IPv4 tail in hex, a CIDR as its network's text),
 * because everything after it (claims, duplicates, flows) compares that form; storing what the
 * client wrote would ripple through the whole controller. But a tool that diffs its manifest
 * against the live object (Argo CD's default diff, Terraform's kubernetes_manifest, a CI
 * `get -o yaml | diff`) then sees drift forever and re-applies forever, silently. So each such
 * value is named with its stored form, on every write that sends it so: a manifest already in
 * canonical form hears nothing, one that is not hears it on each apply until it is fixed.
 *
 * Found by comparing the spec as the request made it with the spec as admitted, at every
 * string: a value is named when the stored one differs and is its canonical form. That covers
 * every field admission canonicalizes (a port's mac, ips and pairs' MACs, a network's subnet
 * CIDRs and gateways, a load balancer's VIP, MAC and backend addresses, a Node's tunnelIP)
 * without a list to keep in step with it, and nothing else (a default, a kept old value).
 */
import { canonicalCidr, canonicalIp, parseMac } from '../ipam';
import { isPlainObject } from './request-body';

/** Named one by one up to here; past it, the rest in one warning (the API's header budget is 4 KiB: warning-limits.ts). */
const MAX_NAMED = 8;
/** Fields the summarizing warning lists by path. */
const MAX_PATHS = 10;

interface Rewrite {
  path: string;
  stored: string;
}

/**
 * `sent`: the spec the request made (a create's body, an update's, a patch's result), before
 * admission; `stored`: the spec admission made of it.
 */
export function canonicalFormWarnings(sent: unknown, stored: unknown): string[] {
  const rewrites: Rewrite[] = [];
  walk(sent, stored, 'spec', rewrites);
  if (rewrites.length <= MAX_NAMED) return rewrites.map(warning);
  const named = rewrites.slice(0, MAX_NAMED - 1);
  const rest = rewrites.slice(MAX_NAMED - 1);
  const paths = rest.slice(0, MAX_PATHS).map((r) => r.path).join(', ');
  const more = rest.length > MAX_PATHS ? ` and ${rest.length - MAX_PATHS} more` : '';
  return [...named.map(warning), `${paths}${more}: stored in their canonical forms too (read them back from the live object; write them so in your manifest, or diffs against the live object never settle)`];
}

function warning(r: Rewrite): string {
  return `${r.path}: stored as ${r.stored} (its canonical form; write it so in your manifest, or diffs against the live object never settle)`;
}

function walk(sent: unknown, stored: unknown, path: string, out: Rewrite[]): void {
  if (typeof sent === 'string') {
    if (typeof stored === 'string' && stored !== sent && canonicalOf(sent) === stored) out.push({ path, stored });
    return;
  }
  if (Array.isArray(sent)) {
    // By index: admission rewrites list items in place, never reorders them.
    if (Array.isArray(stored)) sent.forEach((s, i) => walk(s, stored[i], `${path}[${i}]`, out));
    return;
  }
  if (isPlainObject(sent) && isPlainObject(stored)) for (const [k, s] of Object.entries(sent)) walk(s, stored[k], `${path}.${k}`, out);
}

/** The canonical form of a MAC, an address or a CIDR, as ipam writes them; undefined for other text. */
function canonicalOf(text: string): string | undefined {
  for (const canonical of [parseMac, canonicalIp, canonicalCidr]) {
    try {
      return canonical(text);
    } catch {
      // not this kind of value
    }
  }
  return undefined;
}
