/**
 * MAC addresses for VM NICs. Generated ones are unicast (I/G bit, bit 0 of the first
 * octet, clear) and locally administered (U/L bit, bit 1, set): the second hex digit is
 * 2, 6, a or e, so they can never collide with a vendor-assigned NIC on the underlay.
 * Canonical form is lower-case, colon-separated, two digits per octet.
 */
import { IpamError } from './errors';
import { cryptoRng, randomBelow, type Rng } from './random';

const MAC_RE = /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/;

/** Parses a user-given MAC (colon or hyphen separated, any case) and returns its canonical form. */
export function parseMac(text: string, field?: string): string {
  if (typeof text !== 'string' || !MAC_RE.test(text)) {
    throw new IpamError(`"${String(text)}" is not a MAC address (expected six hex octets such as 0a:58:0a:00:00:05)`, field);
  }
  const canonical = text.toLowerCase().replace(/-/g, ':');
  const first = parseInt(canonical.slice(0, 2), 16);
  if (first & 1) throw new IpamError(`${canonical} is a multicast MAC address: a NIC needs a unicast one`, field);
  if (canonical === '00:00:00:00:00:00') throw new IpamError('00:00:00:00:00:00 is not a usable MAC address', field);
  return canonical;
}

/** Why a user-given MAC is unusable, or undefined. */
export function validateMac(text: string): string | undefined {
  try {
    parseMac(text);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export function isLocallyAdministered(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 2) !== 0;
}

export interface MacAllocatorOptions {
  /**
   * Leading octets every generated MAC shares, e.g. "0a:58" (what OVN-Kubernetes uses)
   * so operators can tell vnetd's MACs apart. Its first octet must be unicast and
   * locally administered. Default: none (only the two flag bits are fixed).
   */
  prefix?: string;
  rng?: Rng;
}

export class MacAllocator {
  private readonly prefix: number[];
  private readonly rng: Rng;

  constructor(options: MacAllocatorOptions = {}) {
    this.rng = options.rng ?? cryptoRng;
    this.prefix = options.prefix !== undefined ? parsePrefix(options.prefix) : [];
  }

  /** A random MAC; not checked against anything. */
  random(rng: Rng = this.rng): string {
    const octets = [...this.prefix];
    const randomOctets = 6 - octets.length;
    let bits = randomBelow(1n << BigInt(randomOctets * 8), rng);
    const tail: number[] = [];
    for (let i = 0; i < randomOctets; i++) {
      tail.unshift(Number(bits & 0xffn));
      bits >>= 8n;
    }
    octets.push(...tail);
    // Force unicast + locally administered; with a prefix these already hold.
    octets[0] = (octets[0] & 0xfc) | 0x02;
    return octets.map((o) => o.toString(16).padStart(2, '0')).join(':');
  }

  /**
   * A MAC not in taken (canonical strings), or undefined after `attempts` collisions.
   * With 46 random bits a collision is rare, so a few attempts suffice unless the
   * prefix leaves almost no room.
   */
  pickFree(taken: ReadonlySet<string>, rng: Rng = this.rng, attempts = 32): string | undefined {
    for (let i = 0; i < attempts; i++) {
      const mac = this.random(rng);
      if (!taken.has(mac)) return mac;
    }
    return undefined;
  }
}

function parsePrefix(prefix: string): number[] {
  const parts = prefix.toLowerCase().split(':');
  if (parts.length < 1 || parts.length > 5 || parts.some((p) => !/^[0-9a-f]{2}$/.test(p))) {
    throw new IpamError(`MAC prefix "${prefix}" must be 1 to 5 colon-separated hex octets`);
  }
  const octets = parts.map((p) => parseInt(p, 16));
  if ((octets[0] & 3) !== 2) {
    throw new IpamError(`MAC prefix "${prefix}": the first octet must be unicast and locally administered (x2, x6, xa or xe)`);
  }
  return octets;
}
