/**
 * The flow cookie layout, after Antrea's:
 *
 *   bits 63..48  round     generation of our flows (1..65535; 0 is never ours)
 *   bits 47..40  category  owner kind (port, network, load balancer...; 0..255)
 *   bits 39..32  app       which controller wrote the flow (Antrea's "reserved" byte)
 *   bits 31..0   objectId  owner instance within the category
 *
 * A flow belongs to this controller iff its app byte is ours and its round is
 * not 0, so cookies other tools write (ovs-ofctl's default 0, other
 * controllers' app bytes) are never matched by our masked deletes. A new run
 * adopts the round it finds on the switch, so an unchanged table is left as it
 * is; when a run uses another round, one cookie-masked delete (round + app
 * bits) removes everything of the old one after the new flows are in.
 */
export const COOKIE_ROUND_SHIFT = 48n;
export const COOKIE_CATEGORY_SHIFT = 40n;
export const COOKIE_APP_SHIFT = 32n;

export const COOKIE_ROUND_MASK = 0xffffn << COOKIE_ROUND_SHIFT;
export const COOKIE_CATEGORY_MASK = 0xffn << COOKIE_CATEGORY_SHIFT;
export const COOKIE_APP_MASK = 0xffn << COOKIE_APP_SHIFT;
export const COOKIE_OBJECT_MASK = 0xffffffffn;
export const COOKIE_ALL_MASK = 0xffffffffffffffffn;

/** Default app byte: ASCII 'V' for vnetd. */
export const DEFAULT_COOKIE_APP = 0x56;

/** Who owns a flow or group: a kind (category) and an object of that kind. */
export interface FlowOwner {
  /** 0..255, e.g. one value per resource kind or pipeline feature. */
  category: number;
  /** 0..2^32-1, e.g. an id the pipeline allocates per object. */
  objectId: number;
}

export interface CookieParts extends FlowOwner {
  round: number;
  app: number;
}

function checkRange(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`cookie ${name} must be an integer in 0..${max}, got ${v}`);
}

export function encodeCookie(p: CookieParts): bigint {
  checkRange('round', p.round, 0xffff);
  checkRange('category', p.category, 0xff);
  checkRange('app', p.app, 0xff);
  checkRange('objectId', p.objectId, 0xffffffff);
  return (
    (BigInt(p.round) << COOKIE_ROUND_SHIFT) |
    (BigInt(p.category) << COOKIE_CATEGORY_SHIFT) |
    (BigInt(p.app) << COOKIE_APP_SHIFT) |
    BigInt(p.objectId)
  );
}

export function decodeCookie(cookie: bigint): CookieParts {
  return {
    round: Number((cookie & COOKIE_ROUND_MASK) >> COOKIE_ROUND_SHIFT),
    category: Number((cookie & COOKIE_CATEGORY_MASK) >> COOKIE_CATEGORY_SHIFT),
    app: Number((cookie & COOKIE_APP_MASK) >> COOKIE_APP_SHIFT),
    objectId: Number(cookie & COOKIE_OBJECT_MASK),
  };
}

/** The round alone (what a full sync asks of every dumped flow: one shift, no object). */
export function roundOf(cookie: bigint): number {
  return Number(cookie >> COOKIE_ROUND_SHIFT) & 0xffff;
}

/** True when a cookie was written by the controller whose app byte is `app`. */
export function isOwnCookie(cookie: bigint, app: number): boolean {
  return (cookie & COOKIE_APP_MASK) >> COOKIE_APP_SHIFT === BigInt(app) && (cookie & COOKIE_ROUND_MASK) !== 0n;
}

/** Cookie and mask selecting every flow of one round of one app (the stale-round delete). */
export function roundSelector(round: number, app: number): { cookie: bigint; cookieMask: bigint } {
  return { cookie: encodeCookie({ round, app, category: 0, objectId: 0 }), cookieMask: COOKIE_ROUND_MASK | COOKIE_APP_MASK };
}

/** Cookie and mask selecting every flow of this app, whatever the round (for dumps). */
export function appSelector(app: number): { cookie: bigint; cookieMask: bigint } {
  return { cookie: BigInt(app) << COOKIE_APP_SHIFT, cookieMask: COOKIE_APP_MASK };
}

/** A stable map key for an owner. */
export function ownerKey(o: FlowOwner): number {
  return o.category * 0x100000000 + o.objectId;
}

export function ownerFromKey(k: number): FlowOwner {
  return { category: Math.floor(k / 0x100000000), objectId: k % 0x100000000 };
}

/** "category/objectId" as used in log lines and errors. */
export function formatOwner(o: FlowOwner): string {
  return `${o.category}/${o.objectId}`;
}
