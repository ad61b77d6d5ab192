import { parseCommandLine, DEFAULT_OVSDB } from './command-line';
import { DEFAULT_WORKERS, parseLogLevel, parseStore, parseWorkers } from './config';

describe('vnetd command line', () => {
  it('no subcommand is all-in-one; controller takes no arguments', () => {
    expect(parseCommandLine([], {})).toEqual({ kind: 'all-in-one' });
    expect(parseCommandLine(['controller'], {})).toEqual({ kind: 'controller' });
    expect(() => parseCommandLine(['controller', '--node', 'x'], {})).toThrow(/takes no arguments/);
    expect(() => parseCommandLine(['controler'], {})).toThrow(/unknown command "controler"/);
  });

  it('--help after a subcommand is the usage, not an unknown flag', () => {
    for (const argv of [['--help'], ['controller', '--help'], ['agent', '-h'], ['agent', '--node', 'hv1', '--help']]) expect(parseCommandLine(argv, {})).toEqual({ kind: 'help' });
  });

  it('agent: flags win over the environment, defaults for OVSDB', () => {
    const cmd = parseCommandLine(['agent', '--node', 'hv1', '--kubeconfig=/etc/vnetd/agent.kubeconfig'], { VNETD_NODE_NAME: 'other' });
    expect(cmd).toMatchObject({ kind: 'agent', options: { node: 'hv1', kubeconfig: '/etc/vnetd/agent.kubeconfig', ovsdb: DEFAULT_OVSDB } });
    const env = parseCommandLine(['agent'], { VNETD_NODE_NAME: 'hv2', KUBECONFIG: '/k', VNETD_OVSDB: 'tcp:10.0.0.1:6640' });
    expect(env).toMatchObject({ options: { node: 'hv2', kubeconfig: '/k', ovsdb: 'tcp:10.0.0.1:6640' } });
  });

  it('agent: bad input is one clear error', () => {
    expect(() => parseCommandLine(['agent', '--kubeconfig', '/k'], {})).toThrow(/needs --node NAME/);
    expect(() => parseCommandLine(['agent', '--node', 'hv1'], {})).toThrow(/needs --kubeconfig PATH/);
    expect(() => parseCommandLine(['agent', '--node'], {})).toThrow(/--node needs a value/);
    expect(() => parseCommandLine(['agent', '--node', 'HV_1', '--kubeconfig', '/k'], {})).toThrow(/not a valid Node name/);
    expect(() => parseCommandLine(['agent', '--nod', 'hv1'], {})).toThrow(/unknown flag "--nod"/);
    expect(() => parseCommandLine(['agent', '--node', 'hv1', '--kubeconfig', '/k'], { VNETD_METRICS_ADDRESS: '9464' })).toThrow(/^VNETD_METRICS_ADDRESS must be HOST:PORT \(e\.g\. 127\.0\.0\.1:9464\), got "9464"\n/);
    expect(() => parseCommandLine(['agent', '--node', 'hv1', '--kubeconfig', '/k'], { VNETD_METRICS_ADDRESS: '127.0.0.1:70000' })).toThrow(/VNETD_METRICS_ADDRESS port 70000 is out of range/);
  });

  it('agent: /metrics only where VNETD_METRICS_ADDRESS asks', () => {
    expect(parseCommandLine(['agent', '--node', 'hv1', '--kubeconfig', '/k'], {})).toMatchObject({ options: { metricsAddress: undefined } });
    expect(parseCommandLine(['agent', '--node', 'hv1', '--kubeconfig', '/k'], { VNETD_METRICS_ADDRESS: '[::1]:9464' })).toMatchObject({ options: { metricsAddress: '[::1]:9464' } });
  });
});

describe('VNETD_STORE', () => {
  it('defaults to sqlite; etcd:// lists endpoints', () => {
    expect(parseStore({})).toEqual({ kind: 'sqlite' });
    expect(parseStore({ VNETD_STORE: 'etcd://10.0.0.1:2379,etcd-2.example:2379' })).toEqual({
      kind: 'etcd',
      endpoints: ['http://10.0.0.1:2379', 'http://etcd-2.example:2379'],
      tls: undefined,
    });
  });

  it('rejects what it cannot use, saying why', () => {
    expect(() => parseStore({ VNETD_STORE: 'postgres://x' })).toThrow(/must be "sqlite" or "etcd:\/\//);
    expect(() => parseStore({ VNETD_STORE: 'etcd://10.0.0.1' })).toThrow(/"10.0.0.1" is not host:port/);
    expect(() => parseStore({ VNETD_STORE: 'etcd://a:2379', VNETD_ETCD_CA: '/nonexistent/ca.pem' })).toThrow(/VNETD_ETCD_CA: cannot read/);
    expect(() => parseStore({ VNETD_STORE: 'etcd://a:2379', VNETD_ETCD_CERT: __filename })).toThrow(/go together/);
  });

  it('with a CA the endpoints speak TLS', () => {
    const s = parseStore({ VNETD_STORE: 'etcd://a:2379', VNETD_ETCD_CA: __filename });
    expect(s).toMatchObject({ kind: 'etcd', endpoints: ['https://a:2379'] });
  });
});

describe('VNETD_LOG_LEVEL and VNETD_WORKERS', () => {
  it('default to info and DEFAULT_WORKERS; accept pino level names in any case', () => {
    expect(parseLogLevel(undefined)).toBe('info');
    expect(parseLogLevel(' Debug ')).toBe('debug');
    expect(parseWorkers(undefined)).toBe(DEFAULT_WORKERS);
    expect(parseWorkers('8')).toBe(8);
  });

  it('reject what pino or the work queues cannot use, naming the variable', () => {
    // Before: "1" reached pino, which died with "default level:1 must be included in custom levels".
    expect(() => parseLogLevel('1')).toThrow(/^VNETD_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "1"$/);
    for (const bad of ['0', '-1', '2.5', 'many', '1000']) expect(() => parseWorkers(bad)).toThrow(/^VNETD_WORKERS must be a whole number from 1 to 64/);
    expect(() => parseCommandLine(['agent', '--node', 'hv1', '--kubeconfig', '/k'], { VNETD_LOG_LEVEL: 'loud' })).toThrow(/VNETD_LOG_LEVEL/);
  });
});
