/**
 * Turns any failure into the one line the user sees: "<what failed>: <why>; <what to do>".
 * The why comes from the Status (message, or its field causes); the what-to-do is a hint
 * chosen from the reason, so people are told a command to run instead of a status code.
 */
import { tlsFailureOf } from '../pki/tls-failure';
import { ApiStatusError, CliError, TransportError } from './errors';

export interface ErrorContext {
  /** e.g. `create virtualnetwork "blue" in namespace "t1"`. */
  action?: string;
  /** Maps spec field paths to the flag that sets them, e.g. spec.vip -> --vip. */
  flagFor?: (field: string) => string | undefined;
  /** Where the credentials came from, named in 401 hints. */
  kubeconfig?: string;
  /** False when that kubeconfig's user has no token (nor client certificate) at all. */
  hasCredentials?: boolean;
  namespace?: string;
  /** A command that lists the kind, e.g. `vnetctl network list`. */
  listCommand?: string;
}

function causesText(err: ApiStatusError, ctx: ErrorContext): string | undefined {
  const causes = err.status.details?.causes ?? [];
  if (causes.length === 0) return undefined;
  return causes
    .map((c) => {
      const flag = c.field ? ctx.flagFor?.(c.field) : undefined;
      const where = c.field ? (flag ? `${c.field} (${flag})` : c.field) : '';
      return where ? `${where}: ${c.message}` : c.message;
    })
    .join('; ');
}

function hintFor(err: ApiStatusError, ctx: ErrorContext): string {
  const ns = ctx.namespace ? ` -n ${ctx.namespace}` : '';
  switch (err.reason) {
    case 'Unauthorized':
      if (ctx.hasCredentials === false) return `the user${ctx.kubeconfig ? ` in ${ctx.kubeconfig}` : ''} has no token: use vnetd's admin kubeconfig ($VNETD_DATA_DIR/admin.kubeconfig) or one with an AccessToken's token`;
      return `the token${ctx.kubeconfig ? ` in ${ctx.kubeconfig}` : ''} is wrong, expired or was deleted: ask an admin for a new one, or use vnetd's admin kubeconfig ($VNETD_DATA_DIR/admin.kubeconfig)`;
    case 'Forbidden':
      // A quota refuses whatever the token: its message already says what to do (QA-134 F8:
      // told to find another token, which sent people chasing permissions).
      if (isQuotaRefusal(err)) return '';
      // -n helps only where there is a namespace: a cluster-scoped kind's is the token's alone.
      return ctx.namespace ? `use a token that is allowed there (or another namespace with -n)` : 'use a token that is allowed there';
    case 'NotFound':
      // The namespace itself is what is missing: listing in it would fail the same way.
      if (err.status.details?.kind === 'namespaces') return namespaceNotFoundHint(err.status.details.name, ctx);
      return ctx.listCommand ? `see what exists with: ${ctx.listCommand}${ns}` : 'check the name and namespace (-n)';
    case 'AlreadyExists':
      // A network deleted with ports on it stays until they are gone (QA: "delete the existing object first", which was done).
      if (err.status.message?.startsWith('object is being deleted:')) {
        // A network waits for its ports and load balancers; anything may wait for another finalizer (QA-96).
        const what = err.status.details?.kind === 'virtualnetworks' ? 'its ports and load balancers, or another finalizer' : 'its finalizers';
        return `it is being deleted and waits for ${what}, as its Ready condition says (-o yaml): wait for it to go, or pick another name`;
      }
      return 'pick another name, or delete the existing object first';
    case 'Conflict':
      // Refused while the network's subnets are being changed: nothing of the object changed.
      if ((err.status.details?.causes ?? []).some((c) => c.reason === 'SubnetChanging')) return 'run the command again in a moment';
      return 'it changed meanwhile: run the command again';
    case 'Invalid': {
      const missing = (err.status.details?.causes ?? []).find((c) => c.reason === 'FieldValueNotFound' && c.field === 'spec.network');
      if (missing) return `create the network first, or pick one from: vnetctl network list${ns}`;
      // A full network is not a value to fix (QA R18: said so with no --vip given); its message says what to do already.
      if ((err.status.details?.causes ?? []).some((c) => /^no free .*address left/.test(c.message ?? ''))) return 'then run the command again';
      return 'fix the values and run the command again';
    }
    case 'Expired':
    case 'Gone':
      return 'run the command again';
    case 'InternalError':
      return "this is vnetd's fault: check its log";
    case 'ServiceUnavailable':
      // The store (etcd, or the data dir) cannot serve now: nothing was done, and a retry will
      // be (QA-146 F4: it said "this is vnetd's fault" during an etcd outage).
      return 'nothing was done: run the command again in a moment (vnetd says why at /readyz?verbose)';
    case 'InsufficientStorage':
      return 'nothing can be written until space is freed in etcd: tell its operator';
    default:
      return 'check the command and run it again';
  }
}

/**
 * The namespace itself is missing: vnetctl makes one (QA: the hint sent an on-call to kubectl
 * before `vnetctl network create web -n app`). Not offered to a delete, which wanted it gone.
 */
function namespaceNotFoundHint(name: string | undefined, ctx: ErrorContext): string {
  const list = 'see the namespaces there are with: vnetctl namespace list';
  if (!name || ctx.action?.startsWith('delete ')) return list;
  return `${list}, or create it: vnetctl namespace create ${name}`;
}

/** A 403 from a ResourceQuota (kube-apiserver's words: "... is forbidden: exceeded quota: NAME, ..."). */
function isQuotaRefusal(err: ApiStatusError): boolean {
  return /\bis forbidden: exceeded quota: /.test(err.status.message ?? '');
}

function transportHint(err: TransportError): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return `is vnetd running? start it with "npm start", or point --kubeconfig/--context at the right server`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'check the server address in the kubeconfig';
    case 'ETIMEDOUT':
      return 'the server did not answer in time: check the network path and that vnetd is healthy';
    default:
      switch (tlsFailureOf(err.code)) {
        case 'server-certificate':
          return "the server's certificate is not signed by the kubeconfig's certificate-authority-data: refresh the kubeconfig from vnetd's data dir";
        case 'server-certificate-dates':
          return "the server's certificate is out of its validity period (expired, or not valid yet): check this host's and vnetd's clocks; vnetd renews its certificate when it starts";
        case 'server-name':
          return "the server's certificate does not name the address in the kubeconfig: use one it names (localhost, 127.0.0.1 and the host of vnetd's VNETD_LISTEN)";
        case 'client-certificate':
          return "the server refused the kubeconfig's client certificate: refresh the kubeconfig from vnetd's data dir";
        case 'not-tls':
          return 'what answers there is not a vnetd speaking TLS: check that the server in the kubeconfig is https://host:port of a running vnetd';
        default:
          return 'check that the server in the kubeconfig is a running vnetd';
      }
  }
}

/** The single line printed for `err` (without the trailing newline). */
export function describeError(err: unknown, ctx: ErrorContext = {}): string {
  const what = ctx.action ? `cannot ${ctx.action}` : 'error';
  if (err instanceof ApiStatusError) {
    const why = causesText(err, ctx) ?? err.status.message;
    const hint = hintFor(err, ctx);
    return hint ? `${what}: ${why}; ${hint}` : `${what}: ${why}`;
  }
  if (err instanceof TransportError) {
    if (err.outcomeUnknown) return `${what}: no answer from vnetd at ${err.server} (${err.message}): it may have been done; look before running it again${ctx.listCommand ? ` (${ctx.listCommand})` : ''}`;
    return `${what}: cannot reach vnetd at ${err.server} (${err.message}); ${transportHint(err)}`;
  }
  // CliErrors are written as complete lines where they are raised.
  if (err instanceof CliError) return err.message;
  const e = err as { message?: string };
  return `${what}: ${e?.message ?? String(err)}`;
}
