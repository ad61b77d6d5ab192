/**
 * Field management for server-side apply (Kubernetes' managedFields), reduced to what the
 * vnet.dev kinds need: lists are atomic (as in a CRD without x-kubernetes-list-type) but
 * finalizers, a set as in Kubernetes (so an apply never drops the server's own); the fields
 * tracked are the spec (and any other top-level section but status), labels, annotations,
 * finalizers and ownerReferences. Ownership is decided on the object as it will be stored (after
 * admission's defaults), so a client that re-sends a list without its defaulted values
 * changes nothing and takes nothing over.
 *
 * Each write records which manager set which fields: an apply (`Apply`, the fields of the
 * configuration it sent) or any other write (`Update`, the fields it changed; a create
 * owns what it set). Then an apply:
 *  - conflicts (409) where it would change a field another manager owns, unless forced,
 *    which takes the field over;
 *  - removes the fields its manager applied before and no longer applies, unless another
 *    manager owns them too (a field set by kubectl edit since is kept);
 *  - shares a field with another manager that set it to the same value.
 * Without this an apply was a merge patch: nothing was ever removed, nothing conflicted
 * (GitOps tools such as Flux apply this way and rely on both).
 */
import { kubeTime, type KubeObject } from '../resources/object';
import { sameValue } from '../resources/same-value';
import { ApiError } from '../resources/status';
import { isPlainObject } from './request-body';

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
}

/** A field by its keys from the object's root: ['spec', 'mtu'], ['metadata', 'labels', 'team']. */
type Path = readonly string[];

const id = (p: Path): string => JSON.stringify(p);
const overlaps = (a: Path, b: Path): boolean => a.length <= b.length ? a.every((k, i) => b[i] === k) : b.every((k, i) => a[i] === k);

/** Top-level keys that are not fields of the user's (identity, server state). */
const UNTRACKED_TOP = new Set(['apiVersion', 'kind', 'metadata', 'status']);
/** metadata maps whose keys are fields each. */
const METADATA_MAPS = ['labels', 'annotations'];
/** A set's element in a path, as FieldsV1 writes it ("v:<JSON value>"). */
const SET_ITEM = 'v:';
/**
 * Who owns the fields of an object written before managedFields existed, as Kubernetes
 * names it: the first apply conflicts where it would change them, instead of taking sole
 * ownership and removing them later.
 */
export const BEFORE_FIRST_APPLY = 'before-first-apply';

/**
 * A path through "__proto__" would make the walks below read and write the object's prototype
 * (Object.prototype itself, for a plain object). Bodies with such a key are refused when
 * decoded; a stored or client-sent managedFields entry can still name "f:__proto__", so paths
 * are filtered where they are made too.
 */
const safePath = (p: Path): boolean => !p.includes('__proto__');

/** The fields an object (or an apply configuration) sets; a null sets nothing. */
export function fieldsOf(obj: unknown): Path[] {
  const out: Path[] = [];
  if (!isPlainObject(obj)) return out;
  const meta = isPlainObject(obj.metadata) ? obj.metadata : {};
  for (const m of METADATA_MAPS) walk(meta[m], ['metadata', m], out);
  if (Array.isArray(meta.finalizers)) for (const f of meta.finalizers) out.push(['metadata', 'finalizers', `${SET_ITEM}${JSON.stringify(f)}`]);
  if (meta.ownerReferences !== undefined && meta.ownerReferences !== null) out.push(['metadata', 'ownerReferences']);
  for (const [k, v] of Object.entries(obj)) if (!UNTRACKED_TOP.has(k)) walk(v, [k], out);
  return out.filter(safePath);
}

function walk(v: unknown, path: Path, out: Path[]): void {
  if (v === undefined || v === null) return;
  if (isPlainObject(v) && Object.keys(v).length > 0) {
    for (const [k, c] of Object.entries(v)) walk(c, [...path, k], out);
    return;
  }
  out.push(path);
}

const setItem = (k: string): unknown => JSON.parse(k.slice(SET_ITEM.length)) as unknown;

/** The field's value (a set's element: the element when the set holds it). */
function getAt(obj: unknown, path: Path): unknown {
  let v = obj;
  for (const k of path) {
    if (k.startsWith(SET_ITEM) && Array.isArray(v)) return v.find((x) => sameValue(x, setItem(k)));
    if (!isPlainObject(v)) return undefined;
    v = v[k];
  }
  return v;
}

/** Sets the field: an empty map only makes sure the map is there (maps merge key by key); a set's element is added once. */
function setAt(obj: Record<string, unknown>, path: Path, value: unknown): void {
  const last = path[path.length - 1]!;
  let v = obj;
  for (const [i, k] of path.slice(0, -1).entries()) {
    const isSet = path[i + 1]!.startsWith(SET_ITEM);
    if (isSet ? !Array.isArray(v[k]) : !isPlainObject(v[k])) v[k] = isSet ? [] : {};
    if (isSet) {
      const list = v[k] as unknown[];
      if (!list.some((x) => sameValue(x, value))) list.push(value);
      return;
    }
    v = v[k] as Record<string, unknown>;
  }
  if (isPlainObject(value) && Object.keys(value).length === 0 && isPlainObject(v[last])) return;
  v[last] = value;
}

/** Deletes the field (a set's element from its set), then the maps and sets it leaves empty (never a top-level section or metadata). */
function deleteAt(obj: Record<string, unknown>, path: Path): void {
  const chain: Array<Record<string, unknown>> = [obj];
  const last = path[path.length - 1]!;
  for (const k of path.slice(0, last.startsWith(SET_ITEM) ? -2 : -1)) {
    const next = chain[chain.length - 1]![k];
    if (!isPlainObject(next)) return;
    chain.push(next);
  }
  if (last.startsWith(SET_ITEM)) {
    const holder = chain[chain.length - 1]!;
    const key = path[path.length - 2]!;
    const list = holder[key];
    if (!Array.isArray(list)) return;
    const kept = list.filter((x) => !sameValue(x, setItem(last)));
    if (kept.length > 0) holder[key] = kept;
    else delete holder[key];
  } else delete chain[chain.length - 1]![last];
  const depth = chain.length - 1;
  for (let i = depth; i >= 2; i--) {
    if (Object.keys(chain[i]!).length > 0) break;
    delete chain[i - 1]![path[i - 1]!];
  }
}

/** Paths as FieldsV1 ({"f:spec":{"f:mtu":{}}}), the form kubectl shows. */
export function toFieldsV1(paths: readonly Path[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const p of paths) {
    let n = root;
    for (const k of p) n = (n[k.startsWith(SET_ITEM) ? k : `f:${k}`] ??= {}) as Record<string, unknown>;
  }
  return root;
}

/** FieldsV1 back to paths: a node without "f:" or set-element children is a field ("." and list keys are not descended). */
export function fromFieldsV1(f: unknown, prefix: Path = []): Path[] {
  if (!isPlainObject(f)) return [];
  const children = Object.keys(f).filter((k) => k.startsWith('f:') || k.startsWith(SET_ITEM));
  if (children.length === 0) return prefix.length ? [prefix] : [];
  return children.flatMap((k) => fromFieldsV1(f[k], [...prefix, k.startsWith(SET_ITEM) ? k : k.slice(2)])).filter(safePath);
}

/** The object's entries, whatever a client or an earlier release stored (malformed ones dropped). */
export function managedFieldsOf(obj: KubeObject | undefined): ManagedFieldsEntry[] {
  const list = (obj?.metadata as { managedFields?: unknown } | undefined)?.managedFields;
  if (!Array.isArray(list)) return [];
  return list.filter((e): e is ManagedFieldsEntry => isPlainObject(e) && typeof e.manager === 'string' && (e.operation === 'Apply' || e.operation === 'Update') && isPlainObject(e.fieldsV1));
}

/**
 * The entries an apply starts from: the object's, or for one written before managedFields
 * existed, BEFORE_FIRST_APPLY owning every field it has.
 */
function entriesForApply(current: KubeObject | undefined, apiVersion: string, now: Date): ManagedFieldsEntry[] {
  const entries = managedFieldsOf(current);
  if (!current || entries.length > 0) return entries;
  const held = fieldsOf(current);
  return held.length > 0 ? [entry(BEFORE_FIRST_APPLY, 'Update', apiVersion, now, held)] : [];
}

interface Owned {
  entry: ManagedFieldsEntry;
  paths: Path[];
}

function entry(manager: string, operation: ManagedFieldsEntry['operation'], apiVersion: string, now: Date, paths: readonly Path[]): ManagedFieldsEntry {
  return { manager, operation, apiVersion, time: kubeTime(now), fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(paths) };
}

/** The entries after `owned` changed: each with its remaining fields (unchanged ones as they were), empty ones gone. */
function rebuilt(owned: readonly Owned[], now: Date): ManagedFieldsEntry[] {
  return owned.flatMap(({ entry: e, paths }) => {
    if (paths.length === 0) return [];
    const before = fromFieldsV1(e.fieldsV1);
    if (before.length === paths.length && paths.every((p, i) => id(p) === id(before[i]!))) return [e];
    return [entry(e.manager, e.operation, e.apiVersion, now, paths)];
  });
}

/**
 * The entries an update starts from, as kube-apiserver decides them (decodeLiveOrNew): those
 * the request set explicitly, when they differ from nothing and all decode (kubectl's
 * migration from client-side to server-side apply replaces them with a JSON patch; before,
 * they were dropped, so the fields the user then removed stayed, QA-127 F1); none for
 * `[{}]`, the documented way to clear them; else the stored ones (a client that knows
 * nothing of them sends none, or sends back what it read).
 */
function entriesForUpdate(old: KubeObject | undefined, next: KubeObject): ManagedFieldsEntry[] {
  const sent = (next.metadata as { managedFields?: unknown }).managedFields;
  if (!Array.isArray(sent) || sent.length === 0) return managedFieldsOf(old);
  if (sent.length === 1 && isPlainObject(sent[0]) && Object.keys(sent[0]).length === 0) return [];
  const decoded = managedFieldsOf(next);
  return decoded.length === sent.length ? decoded : managedFieldsOf(old);
}

/**
 * managedFields after a write other than an apply, from `old` (undefined: a create) to
 * `next`: `manager` owns the fields it changed or set, as an Update; nobody else does. The
 * other entries are the stored ones, or those the request set (entriesForUpdate).
 */
export function managedFieldsAfterUpdate(old: KubeObject | undefined, next: KubeObject, manager: string, apiVersion: string, now = new Date()): ManagedFieldsEntry[] {
  const entries = old ? entriesForUpdate(old, next) : managedFieldsOf(old);
  const before = new Map((old ? fieldsOf(old) : []).map((p) => [id(p), p]));
  const after = fieldsOf(next);
  const afterIds = new Set(after.map(id));
  const changed = after.filter((p) => !before.has(id(p)) || !sameValue(getAt(old, p), getAt(next, p)));
  const removed = [...before.values()].filter((p) => !afterIds.has(id(p)));
  if (changed.length === 0 && removed.length === 0) return entries;
  const touched = [...changed, ...removed];
  const owned: Owned[] = entries.map((e) => ({ entry: e, paths: fromFieldsV1(e.fieldsV1).filter((p) => !touched.some((t) => overlaps(p, t))) }));
  const mine = owned.find((o) => o.entry.manager === manager && o.entry.operation === 'Update');
  if (mine) mine.paths.push(...changed);
  else if (changed.length > 0) owned.push({ entry: entry(manager, 'Update', apiVersion, now, []), paths: changed });
  return rebuilt(owned, now);
}

export interface ApplyOptions {
  manager: string;
  force: boolean;
  apiVersion: string;
  now?: Date;
}

/**
 * The object after applying `config` as `manager` to `current` (undefined: a create): the
 * configuration's fields set, and those the manager applied before and no longer does
 * removed unless another manager holds them. Ownership and conflicts are decided on what
 * admission then makes of it (managedFieldsAfterApply).
 */
export function applyConfiguration<T extends KubeObject>(current: T | undefined, config: Record<string, unknown>, manager: string): T {
  const applied = fieldsOf(config);
  const entries = entriesForApply(current, '', new Date());
  const mineBefore = entries.find((e) => e.manager === manager && e.operation === 'Apply');
  const others = entries.filter((e) => e !== mineBefore).flatMap((e) => fromFieldsV1(e.fieldsV1));
  const next = structuredClone(current ?? ({ apiVersion: config.apiVersion, kind: config.kind, metadata: {} } as unknown as T)) as unknown as Record<string, unknown>;
  for (const p of applied) setAt(next, p, structuredClone(getAt(config, p)));
  for (const p of mineBefore ? fromFieldsV1(mineBefore.fieldsV1) : []) {
    if (applied.some((a) => overlaps(a, p)) || others.some((q) => overlaps(p, q))) continue;
    deleteAt(next, p);
  }
  return next as unknown as T;
}

/**
 * managedFields once `result` (applyConfiguration's object, admitted) replaces `current`:
 * the manager owns every field of its configuration; a field another manager owns and the
 * apply changes is a conflict (409, all of them listed), or with `force` the applier's
 * alone; one it leaves as it was is shared.
 */
export function managedFieldsAfterApply(current: KubeObject | undefined, result: KubeObject, config: Record<string, unknown>, o: ApplyOptions): ManagedFieldsEntry[] {
  const now = o.now ?? new Date();
  // What the stored object kept of the configuration (fields the schema pruned are not owned).
  const applied = fieldsOf(config).filter((p) => getAt(result, p) !== undefined);
  const others: Owned[] = entriesForApply(current, o.apiVersion, now)
    .filter((e) => !(e.manager === o.manager && e.operation === 'Apply'))
    .map((e) => ({ entry: e, paths: fromFieldsV1(e.fieldsV1) }));
  const conflicts: Array<{ manager: string; path: Path; updatedWith?: string }> = [];
  for (const other of others) {
    other.paths = other.paths.filter((q) => {
      const clash = applied.find((p) => overlaps(p, q) && !sameValue(getAt(current, p), getAt(result, p)));
      if (!clash) return true;
      if (!o.force) conflicts.push({ manager: other.entry.manager, path: clash, ...(other.entry.operation === 'Update' ? { updatedWith: other.entry.apiVersion } : {}) });
      return false; // forced: the field is the applier's now
    });
  }
  if (conflicts.length > 0) throw applyConflict(conflicts);
  // An apply that sets nothing owns nothing, and keeps no entry (as in Kubernetes).
  return [...rebuilt(others, now), ...(applied.length > 0 ? [entry(o.manager, 'Apply', o.apiVersion, now, applied)] : [])];
}

/**
 * Worded as kube-apiserver words it: a manager that wrote with an update is named with the
 * API version it used, which tells its Update entry from its Apply one (QA: the same line
 * twice for kubectl-client-side-apply).
 */
function applyConflict(conflicts: ReadonlyArray<{ manager: string; path: Path; updatedWith?: string }>): ApiError {
  const fieldOf = (p: Path) => `.${p.join('.')}`;
  const who = (c: (typeof conflicts)[number]) => `conflict with "${c.manager}"${c.updatedWith ? ` using ${c.updatedWith}` : ''}`;
  const lines = conflicts.map((c) => `${who(c)}: ${fieldOf(c.path)}`);
  return new ApiError(409, 'Conflict', `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? 's' : ''}: ${lines.join('\n')}`, {
    causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: who(c), field: fieldOf(c.path) })),
  });
}

/** The manager of a write that names none: the client's program, as Kubernetes takes it from the User-Agent. */
export function defaultFieldManager(userAgent: string | undefined): string {
  const name = (userAgent ?? '').split('/')[0]!.trim();
  return name.length > 0 ? name.slice(0, 128) : 'unknown';
}
