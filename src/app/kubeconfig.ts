/** The admin kubeconfig vnetd writes next to its data, ready for kubectl and vnetctl. */
import { writeFileSync } from 'node:fs';
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

export function writeKubeconfig(path: string, server: string, caCertPem: string, token: string): void {
  writeFileSync(path, renderKubeconfig(server, caCertPem, token), { mode: 0o600 });
}
