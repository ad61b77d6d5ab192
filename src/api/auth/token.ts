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

/** The hashes an AccessToken's status accepts, newest first: its current one and the earlier ones a shared store keeps (the admin token's). */
export function acceptedHashes(status: { tokenHash?: string; previousTokenHashes?: string[] } | undefined): string[] {
  return [status?.tokenHash, ...(status?.previousTokenHashes ?? [])].filter((h): h is string => !!h);
}

/** Whether the secret is one the status accepts (acceptedHashes). */
export function statusAccepts(status: Parameters<typeof acceptedHashes>[0], secret: string): boolean {
  return acceptedHashes(status).some((h) => secretMatches(secret, h));
}
