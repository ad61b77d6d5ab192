import { randomBytes } from 'node:crypto';

/** A source of uniform floats in [0, 1), like Math.random; injectable so tests are deterministic. */
export type Rng = () => number;

/** Random bytes are drawn from the OS this many at a time: one call per port was 0.1 ms of every create. */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolAt = 0;

/** Default source: crypto-backed, since predictable MACs/addresses make spoofing and collisions between replicas easier. */
export const cryptoRng: Rng = () => {
  if (poolAt + 7 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolAt = 0;
  }
  // 53 bits is the full precision of a double in [0, 1).
  let v = 0;
  for (let i = 0; i < 7; i++) v = v * 256 + pool[poolAt + i]!;
  poolAt += 7;
  return (v % 2 ** 53) / 2 ** 53;
};

/**
 * A uniform-ish bigint in [0, n). Draws 32 bits per rng call plus 32 extra bits so the
 * modulo bias stays below 2^-32 even for n near 2^128.
 */
export function randomBelow(n: bigint, rng: Rng): bigint {
  if (n <= 0n) throw new RangeError('randomBelow: n must be positive');
  const bits = n.toString(2).length + 32;
  let v = 0n;
  for (let have = 0; have < bits; have += 32) {
    v = (v << 32n) | BigInt(Math.floor(rng() * 2 ** 32) >>> 0);
  }
  return v % n;
}
