import { loadConfig, parseOpenflowLanes, parseUnderlayMtu } from './config';

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

describe('VNETD_UNDERLAY_MTU', () => {
  it('is 1500 unset, a whole number from 1280 to 9216 otherwise, refused with one clear line', () => {
    expect(parseUnderlayMtu(undefined)).toBe(1500);
    expect(loadConfig({ VNETD_UNDERLAY_MTU: '9000' }).underlayMtu).toBe(9000);
    for (const bad of ['1279', '9217', '1500.5', 'jumbo']) expect(() => parseUnderlayMtu(bad)).toThrow(`VNETD_UNDERLAY_MTU must be a whole number from 1280 to 9216 (the hypervisors' underlay MTU), got "${bad}"`);
  });
});
