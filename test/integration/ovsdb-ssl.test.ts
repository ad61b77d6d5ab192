/**
 * The client over ssl: against a real ovsdb-server listening on pssl: with
 * --private-key/--certificate/--ca-cert. OVS's SSL is mutual, so the test makes a
 * throwaway PKI with openssl: a CA that signs the server's and a client's certificate,
 * and a second, untrusted CA that signs a "rogue" client certificate. Checks:
 * transact and monitor work over ssl:; a client certificate from the other CA (or none)
 * is refused with TlsError reason 'client-certificate'; a client that trusts only the
 * other CA refuses the server with TlsError reason 'server-certificate'.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cond, createOvsdbClient, TlsError, type OvsdbClient, type RowChange, type TlsOptions } from '../../src/ovsdb';
import type { LabModel } from '../../src/ovsdb/testing/lab-schema';
import { findBinary, listeningPort, startOvs, type OvsInstance } from '../harness/ovs';
import { describeOvs, dumpTable, labSchemaFile, waitFor } from './ovsdb-helpers';

const schemaFile = labSchemaFile();

/** PEM files of a throwaway PKI in `dir`: CAs "ca" and "otherca"; leaf certs server, client (ca), rogue (otherca). */
function makePki(dir: string): void {
  const openssl = (args: string[]): void => {
    execFileSync(findBinary('openssl') ?? 'openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  // EC keys: RSA key generation is the slow part of this on a loaded 2-core CI box.
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'otherca']) {
    openssl(['req', '-x509', ...newKey, '-keyout', `${ca}-key.pem`, '-out', `${ca}-cert.pem`, '-days', '2', '-subj', `/CN=vnetd test ${ca}`]);
  }
  for (const [leaf, ca] of [
    ['server', 'ca'],
    ['client', 'ca'],
    ['rogue', 'otherca'],
  ] as const) {
    openssl(['req', ...newKey, '-keyout', `${leaf}-key.pem`, '-out', `${leaf}.csr`, '-subj', `/CN=${leaf}`]);
    // The server is dialed as 127.0.0.1, so Node's name check needs it as an IP SAN.
    writeFileSync(join(dir, `${leaf}.ext`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    openssl([
      'x509', '-req', '-in', `${leaf}.csr`, '-CA', `${ca}-cert.pem`, '-CAkey', `${ca}-key.pem`, '-CAcreateserial',
      '-out', `${leaf}-cert.pem`, '-days', '2', '-extfile', `${leaf}.ext`,
    ]);
  }
}

describeOvs('ovsdb client over SSL', () => {
  const pkiDir = mkdtempSync(join(tmpdir(), 'ovsdb-pki-'));
  const pem = (name: string): Buffer => readFileSync(join(pkiDir, `${name}.pem`));
  let inst: OvsInstance;
  let endpoint: string;
  const clients: Array<OvsdbClient<LabModel>> = [];

  function client(tls: TlsOptions): OvsdbClient<LabModel> {
    const c = createOvsdbClient<LabModel>({ endpoints: endpoint, database: 'Lab', tls, reconnect: false, connectTimeoutMs: 10_000 });
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    makePki(pkiDir);
    inst = await startOvs({
      name: 'ssl',
      schema: schemaFile,
      vswitchd: false,
      // Port 0: the kernel picks a free port and ovsdb-server logs it (no pick-a-port race).
      remotes: ['pssl:0:127.0.0.1'],
      serverArgs: [
        `--private-key=${join(pkiDir, 'server-key.pem')}`,
        `--certificate=${join(pkiDir, 'server-cert.pem')}`,
        `--ca-cert=${join(pkiDir, 'ca-cert.pem')}`,
      ],
    });
    endpoint = `ssl:127.0.0.1:${await listeningPort(inst)}`;
  }, 30_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await inst?.stop();
    rmSync(pkiDir, { recursive: true, force: true });
  });

  it('transacts and monitors over ssl: with mutual certificates', async () => {
    const c = client({ ca: pem('ca-cert'), cert: pem('client-cert'), key: pem('client-key') });
    await c.connect();
    expect(await c.listDbs()).toContain('Lab');

    const events: RowChange[] = [];
    c.cache.on((e) => events.push(e));
    await c.monitor({ tables: { Switch: {} } });
    const [res] = await c.transact(c.ops.insert('Switch', { name: 'over-tls', weight: 7 }));
    const uuid = res!.uuid![1];
    await waitFor(() => events.length === 1, 10_000, 'insert event over TLS');
    expect(events[0]).toMatchObject({ kind: 'insert', uuid, new: { name: 'over-tls', weight: 7 } });
    await c.transact(c.ops.update('Switch', [cond('_uuid', '==', uuid)], { weight: 8 }));
    await waitFor(() => c.cache.table('Switch').row(uuid)?.weight === 8, 10_000, 'update over TLS');
    // What the client wrote is what the server holds (read back over the unix socket).
    const dump = await dumpTable(inst.dbSocket, 'Lab', 'Switch');
    expect(dump.map((r) => [r.name, r.weight])).toEqual([['over-tls', 8]]);
  });

  it('verifies the chain only when checkServerName is false (ovs-pki certificates have no SAN)', async () => {
    const c = client({ ca: pem('ca-cert'), cert: pem('client-cert'), key: pem('client-key'), servername: 'not-the-server', checkServerName: false });
    await c.connect();
    expect(await c.listDbs()).toContain('Lab');
  });

  it.each([
    ['a certificate from an untrusted CA', { cert: 'rogue-cert', key: 'rogue-key' }],
    ['no certificate', {}],
  ])('the server refuses a client with %s: TlsError client-certificate', async (_what, files: { cert?: string; key?: string }) => {
    const c = client({
      ca: pem('ca-cert'),
      ...(files.cert ? { cert: pem(files.cert) } : {}),
      ...(files.key ? { key: pem(files.key) } : {}),
    });
    const err = await c.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TlsError);
    expect(err).toMatchObject({ reason: 'client-certificate' });
    expect((err as Error).message).toMatch(/rejected our client certificate/);
    expect(c.connected).toBe(false);
  });

  it('refuses a server whose certificate does not chain to the CA we trust: TlsError server-certificate', async () => {
    const c = client({ ca: pem('otherca-cert'), cert: pem('client-cert'), key: pem('client-key') });
    const err = await c.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TlsError);
    expect(err).toMatchObject({ reason: 'server-certificate' });
    expect((err as Error).message).toMatch(/certificate was not accepted/);
  });

  it('refuses a server certificate that does not name the host it was dialed as', async () => {
    const c = client({ ca: pem('ca-cert'), cert: pem('client-cert'), key: pem('client-key'), servername: 'elsewhere.example' });
    const err = await c.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TlsError);
    expect(err).toMatchObject({ reason: 'server-certificate', code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
});
