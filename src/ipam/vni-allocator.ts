/**
 * VXLAN/GENEVE network identifiers: 24 bits, 0 excluded (some switches treat VNI 0 as
 * "no tunnel key"). A range narrower than the full space lets operators keep VNIs for
 * networks managed elsewhere (e.g. an OVN deployment sharing the underlay).
 */
import { IpamError } from './errors';
import { randomBelow, type Rng } from './random';

export const VNI_MIN = 1;
export const VNI_MAX = 16_777_215;

/** Why v is not a valid VNI, or undefined. */
export function validateVni(v: unknown): string | undefined {
  if (typeof v !== 'number' || !Number.isInteger(v)) return `VNI must be an integer, got ${JSON.stringify(v)}`;
  if (v < VNI_MIN || v > VNI_MAX) return `VNI ${v} is outside ${VNI_MIN}..${VNI_MAX}`;
  return undefined;
}

export interface VniAllocatorOptions {
  /** Inclusive bounds of the allocatable range; default the whole 1..16777215. */
  min?: number;
  max?: number;
}

export interface PickVniOptions {
  /** Start the scan here (e.g. last allocated + 1) so freed VNIs are not reused at once. */
  hint?: number;
  /** Start at a random point instead; ignored when hint is given. */
  rng?: Rng;
}

export class VniAllocator {
  readonly min: number;
  readonly max: number;

  constructor(options: VniAllocatorOptions = {}) {
    this.min = options.min ?? VNI_MIN;
    this.max = options.max ?? VNI_MAX;
    for (const [name, v] of [['min', this.min], ['max', this.max]] as const) {
      const reason = validateVni(v);
      if (reason) throw new IpamError(`VNI range ${name}: ${reason}`);
    }
    if (this.min > this.max) throw new IpamError(`VNI range ${this.min}..${this.max} is empty`);
  }

  get capacity(): number {
    return this.max - this.min + 1;
  }

  /** Why a user-requested VNI cannot be used, or undefined (taken is checked by the caller, who knows the owner). */
  check(v: unknown): string | undefined {
    const reason = validateVni(v);
    if (reason) return reason;
    const n = v as number;
    if (n < this.min || n > this.max) return `VNI ${n} is outside the allocatable range ${this.min}..${this.max}`;
    return undefined;
  }

  /**
   * A VNI not in taken, or undefined when the range is full. Scans upward from the hint
   * (or a random point, or min), wrapping; at most taken.size + 1 steps, because that
   * many distinct values cannot all be taken.
   */
  pickFree(taken: ReadonlySet<number>, options: PickVniOptions = {}): number | undefined {
    const cap = this.capacity;
    let start = this.min;
    if (options.hint !== undefined && Number.isInteger(options.hint) && options.hint >= this.min && options.hint <= this.max) {
      start = options.hint;
    } else if (options.rng) {
      start = this.min + Number(randomBelow(BigInt(cap), options.rng));
    }
    const budget = Math.min(cap, taken.size + 1);
    for (let i = 0; i < budget; i++) {
      const v = this.min + ((start - this.min + i) % cap);
      if (!taken.has(v)) return v;
    }
    return undefined;
  }
}
