/** The admin kubeconfig vnetd writes next to its data, ready for kubectl and vnetctl. */
import { renameSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

export function renderKubeconfig(server: string, caCertPem: string, token: string, user = 'admin'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'vnetd', cluster: { server, 'certificate-authority-data': Buffer.from(caCertPem).toString('base64') } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: `${user}@vnetd`, context: { cluster: 'vnetd', user, namespace: 'default' } }],
    'current-context': `${user}@vnetd`,
    preferences: {},
  });
}

/**
 * Written whole or not at all (a temporary file renamed over it): kubectl, vnetctl and
 * scripts poll for this file and read it as soon as it exists, and a half-written one
 * parsed as an empty YAML document.
 */
export function writeKubeconfig(path: string, server: string, caCertPem: string, token: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, renderKubeconfig(server, caCertPem, token), { mode: 0o600 });
  renameSync(tmp, path);
}
