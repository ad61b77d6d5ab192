/**
 * What every command needs at run time: the global flags, the terminal, the
 * connection (kubeconfig resolved lazily, so `--help` and `completion` work without
 * one), the namespace, and where to write.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { UsageError } from './errors';
import { ApiClient } from './http/client';
import type { ErrorContext } from './describe-error';
import { loadKubeconfig, resolveKubeconfigPaths, selectContext, type Connection } from './kubeconfig';
import type { KindInfo } from './kinds';
import type { OutputFormat } from './output/printer';
import type { Terminal } from './output/terminal';

export interface GlobalOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  output: OutputFormat;
  requestTimeout?: number;
  /** --dry-run: every write is sent as a server-side dry run (dryRun=All). */
  dryRun?: boolean;
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const realFs = {
  exists: (p: string) => existsSync(p),
  read: (p: string) => readFileSync(p, 'utf8'),
};

export class Runtime {
  private conn?: Connection;
  private apiClient?: ApiClient;

  constructor(
    readonly opts: GlobalOptions,
    readonly term: Terminal,
    readonly io: Io,
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly cwd: string = process.cwd(),
  ) {}

  get output(): OutputFormat {
    return this.opts.output;
  }

  get dryRun(): boolean {
    return this.opts.dryRun === true;
  }

  /** What follows a write's verb in a table output: kubectl's words for a server-side dry run. */
  get dryRunNote(): string {
    return this.dryRun ? ' (server dry run)' : '';
  }

  connection(): Connection {
    if (!this.conn) {
      const paths = resolveKubeconfigPaths(this.opts.kubeconfig, { KUBECONFIG: this.env.KUBECONFIG, VNETD_DATA_DIR: this.env.VNETD_DATA_DIR, HOME: this.env.HOME ?? homedir() }, this.cwd, realFs);
      this.conn = selectContext(loadKubeconfig(paths, realFs), this.opts.context, realFs);
    }
    return this.conn;
  }

  client(): ApiClient {
    this.apiClient ??= new ApiClient(this.connection(), this.opts.requestTimeout, (w) => this.io.err(`Warning: ${w}\n`));
    return this.apiClient;
  }

  /** -n, else the context's namespace, else "default" (kubectl's order). */
  namespace(): string {
    if (this.opts.namespace === '') throw new UsageError('-n/--namespace needs a namespace name (leave it out for the context\'s)');
    return this.opts.namespace ?? this.connection().namespace ?? 'default';
  }

  /** Context for describeError: names the action, the kubeconfig, and a listing command. */
  errorContext(action: string, kind?: KindInfo, flagFor?: (field: string) => string | undefined, namespace?: string): ErrorContext {
    return {
      action,
      flagFor,
      kubeconfig: this.conn?.source,
      hasCredentials: this.conn ? Boolean(this.conn.token || this.conn.cert) : undefined,
      namespace: kind?.namespaced ? (namespace ?? this.opts.namespace ?? this.conn?.namespace) : undefined,
      listCommand: kind ? (kind.command ? `vnetctl ${kind.command} list` : `vnetctl get ${kind.plural}`) : undefined,
    };
  }
}
