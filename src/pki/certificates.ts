/**
 * The TLS material vnetd generates on first start, as k3s does: a CA, and a server
 * certificate signed by it whose subjectAltNames cover the listen address (kubectl
 * refuses CN-only certificates). Keys come from node:crypto; node-forge only signs.
 */
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

export interface TlsMaterial {
  caCertPem: string;
  certPem: string;
  keyPem: string;
}

function newKeyPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

function serial(): string {
  // Positive 128-bit serial (leading nibble < 8 keeps the DER integer positive).
  return `0${randomBytes(16).toString('hex').slice(1)}`;
}

function sign(
  subjectCN: string,
  publicKeyPem: string,
  issuer: { cert?: forge.pki.Certificate; keyPem: string },
  ext: object[],
  years: number,
): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + years * 365 * 24 * 3600 * 1000);
  cert.setSubject([{ name: 'commonName', value: subjectCN }]);
  cert.setIssuer(issuer.cert ? issuer.cert.subject.attributes : [{ name: 'commonName', value: subjectCN }]);
  cert.setExtensions(ext);
  cert.sign(forge.pki.privateKeyFromPem(issuer.keyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function coversHosts(certPem: string, hosts: string[]): boolean {
  try {
    const x = new X509Certificate(certPem);
    if (x.validTo && Date.parse(x.validTo) < Date.now() + 24 * 3600 * 1000) return false;
    return hosts.every((h) => (isIP(h) ? x.checkIP(h) !== undefined : x.checkHost(h) !== undefined));
  } catch {
    return false;
  }
}

/** Loads dir/{ca,server}.{crt,key}, creating or renewing what is missing or does not cover `hosts`. */
export function ensureTlsMaterial(dir: string, hosts: string[]): TlsMaterial {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const p = (f: string) => join(dir, f);
  const write = (f: string, data: string, mode: number) => writeFileSync(p(f), data, { mode });

  if (!existsSync(p('ca.crt')) || !existsSync(p('ca.key'))) {
    const kp = newKeyPair();
    const pem = sign('vnetd-ca', kp.publicKey, { keyPem: kp.privateKey }, [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ], 10);
    write('ca.key', kp.privateKey, 0o600);
    write('ca.crt', pem, 0o644);
  }
  const caCertPem = readFileSync(p('ca.crt'), 'utf8');
  const caKeyPem = readFileSync(p('ca.key'), 'utf8');

  const wanted = [...new Set(['127.0.0.1', 'localhost', ...hosts])];
  if (!existsSync(p('server.crt')) || !existsSync(p('server.key')) || !coversHosts(readFileSync(p('server.crt'), 'utf8'), wanted)) {
    const kp = newKeyPair();
    const altNames = wanted.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h }));
    const pem = sign('vnetd', kp.publicKey, { cert: forge.pki.certificateFromPem(caCertPem), keyPem: caKeyPem }, [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ], 2);
    write('server.key', kp.privateKey, 0o600);
    write('server.crt', pem, 0o644);
  }
  return { caCertPem, certPem: readFileSync(p('server.crt'), 'utf8'), keyPem: readFileSync(p('server.key'), 'utf8') };
}
