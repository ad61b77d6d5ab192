import { flowMod } from '../messages/flow-mod';
import { decodeMessage, encodeMessage } from '../message';
import { ofpPrintBatch, ovsOfctlPath } from '../testing/ovs-ofctl';

/**
 * OVS's ND extension fields (class 0x1000, ERICOXM_OF_ICMPV6_ND_RESERVED/OPTIONS_TYPE) in
 * set_field actions, as the pipeline's ND responder uses them: encoded bytes printed by
 * ovs-ofctl as OVS itself would.
 */
const message = flowMod({
  command: 'add',
  xid: 0x77,
  tableId: 2,
  priority: 100,
  match: [
    { field: 'eth_type', value: 0x86dd },
    { field: 'ip_proto', value: 58 },
    { field: 'icmpv6_type', value: 135 },
  ],
  instructions: [
    {
      type: 'apply_actions',
      actions: [
        { type: 'set_field', field: 'nd_options_type', value: 2 },
        { type: 'set_field', field: 'nd_reserved', value: 0x60000000 },
        { type: 'set_field', field: 'icmpv6_type', value: 136 },
      ],
    },
  ],
});

describe('ND extension fields', () => {
  (ovsOfctlPath() ? it : it.skip)('print in ovs-ofctl as set_field on nd_options_type and nd_reserved', async () => {
    const [printed] = await ofpPrintBatch([encodeMessage(message)]);
    expect(printed).toBe(
      'OFPT_FLOW_MOD (OF1.3) (xid=0x77): ADD table:2 priority=100,icmp6,icmp_type=135 actions=set_field:2->nd_options_type,set_field:1610612736->nd_reserved,set_field:136->icmpv6_type',
    );
  });

  it('round-trip through decode', () => {
    expect(decodeMessage(encodeMessage(message))).toEqual(message);
  });
});
