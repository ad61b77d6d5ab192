/**
 * One command to an OVS daemon's unixctl socket, as `ovs-appctl -t SOCKET COMMAND ARGS...`
 * sends it: JSON-RPC 1.0 over the socket (method: the command, params: its arguments, all
 * strings), answered with the command's text output. Only local: the socket is a file of the
 * daemon's run directory.
 */
import { dirname } from 'node:path';
import { vswitchdIn } from './ovs-rundir';
import { JsonRpcConnection, dial, parseEndpoint } from '../ovsdb';

const UNIXCTL_TIMEOUT_MS = 2_000;

export async function unixctl(socket: string, command: string, args: string[] = [], timeoutMs = UNIXCTL_TIMEOUT_MS): Promise<string> {
  const stream = await dial({ kind: 'unix', path: socket }, { timeoutMs });
  const rpc = new JsonRpcConnection(stream, { requestTimeoutMs: timeoutMs });
  try {
    const out = await rpc.request(command, args);
    return typeof out === 'string' ? out : JSON.stringify(out);
  } finally {
    rpc.close();
  }
}

/**
 * ovs-vswitchd's unixctl socket on the host whose OVSDB socket is `endpoint` (its run
 * directory: ovs-rundir.ts). Undefined for a tcp or ssl endpoint (another host), or when none
 * is there.
 */
export function vswitchdControlSocket(endpoint: string): string | undefined {
  let ep;
  try {
    ep = parseEndpoint(endpoint);
  } catch {
    return undefined;
  }
  return ep.kind === 'unix' ? vswitchdIn(dirname(ep.path)).ctl : undefined;
}
