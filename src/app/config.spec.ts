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
