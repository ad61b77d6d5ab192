/**
 * Ownership marking. Every OVSDB row vnetd creates carries external_ids:vnetd-owner;
 * rows without it (or with another owner's value) belong to someone else - the host's
 * admin, libvirt, another controller - and vnetd never updates or deletes them.
 */
export const OWNER_KEY = 'vnetd-owner';
/** Default owner value; several vnetd clusters sharing one OVS would pick distinct ones. */
export const DEFAULT_OWNER = 'vnetd';

export interface HasExternalIds {
  external_ids: Record<string, string>;
}

export function isOwned(row: HasExternalIds | undefined, owner: string): boolean {
  return row?.external_ids?.[OWNER_KEY] === owner;
}

export function ownerIds(owner: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ...extra, [OWNER_KEY]: owner };
}
