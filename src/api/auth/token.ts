/**
 * Bearer tokens look like `NAME.SECRET`, as Kubernetes bootstrap tokens do: the name
 * finds the AccessToken object, the secret is checked against its stored SHA-256.
 * Secrets are 256 random bits, so a fast hash is enough (nothing to brute-force).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function mintSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function formatToken(name: string, secret: string): string {
  return `${name}.${secret}`;
}

export function parseToken(token: string): { name: string; secret: string } | undefined {
  const dot = token.lastIndexOf('.');
  if (dot <= 0 || dot === token.length - 1) return undefined;
  return { name: token.slice(0, dot), secret: token.slice(dot + 1) };
}

export function secretMatches(secret: string, storedHash: string | undefined): boolean {
  if (!storedHash) return false;
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
