import { loadConfig, parseOpenflowLanes } from './config';

describe('VNETD_OPENFLOW_LANES', () => {
  it('is a whole number from 0 to 16; unset leaves the pipeline default', () => {
    expect(parseOpenflowLanes(undefined)).toBeUndefined();
    expect(parseOpenflowLanes(' ')).toBeUndefined();
    expect(parseOpenflowLanes('0')).toBe(0);
    expect(parseOpenflowLanes('16')).toBe(16);
    expect(loadConfig({ VNETD_OPENFLOW_LANES: '2' }).openflowLanes).toBe(2);
  });

  it('refuses anything else with one clear line', () => {
    for (const bad of ['-1', '17', '2.5', 'many']) {
      expect(() => parseOpenflowLanes(bad)).toThrow(`VNETD_OPENFLOW_LANES must be a whole number from 0 to 16, got "${bad}"`);
    }
  });
});

describe('VNETD_STORE', () => {
  it('an etcd store is refused by all-in-one vnetd, which keeps its own SQLite store, in one line that says what to run (QA-123 F6)', () => {
    expect(() => loadConfig({ VNETD_STORE: 'etcd://127.0.0.1:2379' })).toThrow('VNETD_STORE=etcd://127.0.0.1:2379 is for "vnetd controller": plain "vnetd" (all-in-one) keeps its state in its own SQLite store');
    expect(loadConfig({ VNETD_STORE: 'etcd://127.0.0.1:2379' }, 'controller').store).toMatchObject({ kind: 'etcd', endpoints: ['http://127.0.0.1:2379'] });
    expect(loadConfig({ VNETD_STORE: 'sqlite' }).store).toEqual({ kind: 'sqlite' });
  });
});
