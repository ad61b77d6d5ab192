import { checkMatch } from '../openflow';
import { formatPipelineFlow } from './format';
import { ndAnswerFlow, ndPassFlows, ndSelfPassFlow } from './nd-responder';

describe('ND responder flows', () => {
  const flows = [ndAnswerFlow(100, 'fd00::5', '02:00:00:00:00:05'), ndSelfPassFlow(100, 7, 'fd00::5'), ...ndPassFlows()];

  it('have every match prerequisite', () => {
    for (const f of flows) expect(() => checkMatch(f.match)).not.toThrow();
  });

  it('turn a solicitation into an advertisement, finished by a node-wide second pass that fills the target link-layer option', () => {
    expect(flows.map(formatPipelineFlow)).toEqual([
      'ArpResponder, priority=100, Network=100, icmp6,icmp_type=135,nd_target=fd00::5 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:02:00:00:00:00:05->eth_src,' +
        'move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],set_field:fd00::5->ipv6_src,set_field:0x2->nd_options_type,set_field:0x60000000->nd_reserved,set_field:136->icmpv6_type,load:0x1->NdReply,resubmit(,2)',
      'ArpResponder, priority=110, Network=100, in_port=7,icmp6,icmp_type=135,nd_target=fd00::5 actions=goto_table:LbVip',
      'ArpResponder, priority=110, icmp6,icmp_type=135,ipv6_src=:: actions=goto_table:LbVip',
      'ArpResponder, priority=110, icmp6,icmp_type=135,nd_sll=00:00:00:00:00:00 actions=goto_table:LbVip',
      'ArpResponder, priority=120, NdReply=1, icmp6,icmp_type=136 actions=move:NXM_OF_ETH_SRC[]->NXM_NX_ND_TLL[],IN_PORT',
    ]);
  });
});
