import { decodeSubfield } from '../actions/subfield';
import { Reader } from '../wire/reader';
import { fieldByHeader, OXM_CLASS } from './fields';

/** OVS reports move/load subfields of flows in NXM form (e.g. NXM_OF_ETH_SRC = 0x00000406). */
describe('NXM header aliases', () => {
  it.each([
    [0x00000406, 'eth_src'],
    [0x00000206, 'eth_dst'],
    [0x00002004, 'arp_spa'],
    [0x00002204, 'arp_tpa'],
    [0x00001e02, 'arp_op'],
    [0x00012206, 'arp_sha'],
    [0x00012406, 'arp_tha'],
  ])('decodes subfield header 0x%s as %s', (header, name) => {
    const r = new Reader(Buffer.alloc(0));
    expect(decodeSubfield(r, header, 0, 16, 'test').field).toBe(name);
  });

  it('keeps OXM forms primary', () => {
    expect(fieldByHeader(OXM_CLASS.OPENFLOW_BASIC, 4)).toBe('eth_src');
    expect(fieldByHeader(OXM_CLASS.NXM_0, 2)).toBe('eth_src');
  });
});
