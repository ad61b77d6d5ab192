import type { HypervisorNode } from '../../resources/kinds';
import { heartbeatOfLease, lostByEveryPeer, missedHeartbeatAfterMs } from './lost-by-peers';

const peer = (name: string, tunnels?: { status: 'True' | 'False' | 'Unknown'; reason: string }, lost?: string[]): HypervisorNode => ({
  apiVersion: 'vnet.dev/v1alpha1',
  kind: 'Node',
  metadata: { name },
  spec: { tunnelIP: '192.0.2.1' },
  status: {
    conditions: tunnels ? [{ type: 'TunnelsUp', ...tunnels, message: 'm', lastTransitionTime: '2026-12-07T00:00:00Z' }] : [],
    ...(lost ? { unansweredPeers: lost } : {}),
  },
});

describe('lostByEveryPeer', () => {
  const lostIt = { status: 'False' as const, reason: 'ProbesUnanswered' };
  it('names the peers when every live peer that judges its tunnels lists the node', () => {
    expect(lostByEveryPeer('hv1', [peer('hv2', lostIt, ['hv1']), peer('hv3', { status: 'False', reason: 'ProbesUnanswered' }, ['hv4', 'hv1'])])).toEqual(['hv2', 'hv3']);
  });
  it('peers that judge nothing (no verdict yet, Unknown, no one to probe) and the node itself are not asked', () => {
    const notJudging = [peer('hv3'), peer('hv4', { status: 'Unknown', reason: 'Probing' }), peer('hv5', { status: 'True', reason: 'NoPeers' })];
    expect(lostByEveryPeer('hv1', [peer('hv1', lostIt, ['hv2']), peer('hv2', lostIt, ['hv1']), ...notJudging])).toEqual(['hv2']);
    expect(lostByEveryPeer('hv1', notJudging)).toBeUndefined();
    expect(lostByEveryPeer('hv1', [])).toBeUndefined();
  });
  it('a peer cut off itself (NoProbeAnswered, several lost) is no witness; a True peer with a leftover list is none either (review)', () => {
    const cutOff = peer('hv3', { status: 'False', reason: 'NoProbeAnswered' }, ['hv1', 'hv2', 'hv4']);
    expect(lostByEveryPeer('hv1', [cutOff])).toBeUndefined();
    expect(lostByEveryPeer('hv1', [cutOff, peer('hv2', lostIt, ['hv1'])])).toEqual(['hv2']);
    // A two-node cluster: its one peer lost it, alone.
    expect(lostByEveryPeer('hv1', [peer('hv2', { status: 'False', reason: 'NoProbeAnswered' }, ['hv1'])])).toEqual(['hv2']);
    expect(lostByEveryPeer('hv1', [peer('hv2', { status: 'True', reason: 'ProbesAnswered' }, ['hv1'])])).toBeUndefined();
  });

  it('one live peer that still reaches it (or does not list it) keeps it', () => {
    expect(lostByEveryPeer('hv1', [peer('hv2', lostIt, ['hv1']), peer('hv3', { status: 'True', reason: 'ProbesAnswered' })])).toBeUndefined();
    expect(lostByEveryPeer('hv1', [peer('hv2', lostIt, ['hv1']), peer('hv3', lostIt, ['hv4'])])).toBeUndefined();
  });
});

describe('a missed heartbeat', () => {
  it('is a heartbeat and a quarter after the last renewal, and at least 2 s past one; a lease of three heartbeats says the heartbeat', () => {
    expect(heartbeatOfLease(60)).toBe(20_000);
    expect(heartbeatOfLease(undefined)).toBeUndefined();
    expect(heartbeatOfLease(0)).toBeUndefined();
    expect(missedHeartbeatAfterMs(20_000)).toBe(25_000);
    expect(missedHeartbeatAfterMs(1000)).toBe(3000);
  });
});
