/**
 * A kubeconfig user's `exec` credential plugin (client.authentication.k8s.io, as kubectl runs
 * it): the command prints an ExecCredential whose status holds a token (or a client
 * certificate), which is what vnetctl then sends. Before, vnetctl ignored `exec`, called the
 * user one without a token, and every request was a 401 where kubectl with the same file
 * worked (QA-134 F11). The CLI runs one command and ends, so the credential is fetched once
 * per run, synchronously, and not cached across runs (kubectl caches it only in memory too).
 */
import { execFileSync } from 'node:child_process';
import { dirname, isAbsolute, join } from 'node:path';
import { CliError } from './errors';

export interface ExecConfig {
  apiVersion?: string;
  command?: string;
  args?: string[];
  env?: Array<{ name?: string; value?: string }> | null;
  installHint?: string;
  provideClusterInfo?: boolean;
}

export interface ExecCredentialResult {
  token?: string;
  cert?: string;
  key?: string;
}

const API_VERSIONS = new Set(['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1']);
const TIMEOUT_MS = 60_000;

/**
 * Runs the plugin named in kubeconfig `file` and returns its credential. A command with a
 * path separator in it is relative to the kubeconfig's directory, as kubectl takes it; a bare
 * name is looked up on PATH.
 */
export function execCredential(exec: ExecConfig, file: string, cluster: { server: string; ca?: string }): ExecCredentialResult {
  const apiVersion = exec.apiVersion ?? '';
  if (!exec.command) throw new CliError(`cannot use the exec credential plugin in ${file}: it names no command; fix the kubeconfig`);
  if (!API_VERSIONS.has(apiVersion)) throw new CliError(`cannot use the exec credential plugin "${exec.command}" in ${file}: apiVersion "${apiVersion}" is not client.authentication.k8s.io/v1 or v1beta1; fix the kubeconfig`);
  const command = exec.command.includes('/') && !isAbsolute(exec.command) ? join(dirname(file), exec.command) : exec.command;
  const spec: Record<string, unknown> = { interactive: false };
  if (exec.provideClusterInfo) spec.cluster = { server: cluster.server, ...(cluster.ca ? { 'certificate-authority-data': Buffer.from(cluster.ca).toString('base64') } : {}) };
  const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion, kind: 'ExecCredential', spec }) };
  for (const e of exec.env ?? []) if (e?.name) env[e.name] = e.value ?? '';
  let out: string;
  try {
    // stderr is the user's, as kubectl leaves it: a device-code login prints its URL there.
    out = execFileSync(command, exec.args ?? [], { env, encoding: 'utf8', timeout: TIMEOUT_MS, stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { status?: number | null; stderr?: string };
    if (e.code === 'ENOENT') throw new CliError(`cannot run the exec credential plugin "${exec.command}" named in ${file}: not found${exec.installHint ? `; ${exec.installHint.trim().split('\n')[0]}` : ''}`);
    throw new CliError(`the exec credential plugin "${exec.command}" named in ${file} failed (${e.status !== undefined && e.status !== null ? `exit ${e.status}` : e.code ?? e.message}; what it said is above)`);
  }
  let cred: { kind?: string; status?: { token?: string; clientCertificateData?: string; clientKeyData?: string } };
  try {
    cred = JSON.parse(out) as typeof cred;
  } catch {
    throw new CliError(`the exec credential plugin "${exec.command}" named in ${file} printed no ExecCredential JSON`);
  }
  const s = cred?.status ?? {};
  if (cred?.kind !== 'ExecCredential' || (!s.token && !(s.clientCertificateData && s.clientKeyData))) {
    throw new CliError(`the exec credential plugin "${exec.command}" named in ${file} printed no ExecCredential with a status.token (or a client certificate and key)`);
  }
  return { token: s.token || undefined, cert: s.clientCertificateData || undefined, key: s.clientKeyData || undefined };
}
