import type { Listener, LoadBalancer } from '../../resources/kinds';
import { parseListen } from '../flags/listen';
import { setTargetPortOps, targetPortHint } from './lb-listeners';

const lb = (listeners: Listener[], namespace = 't1'): LoadBalancer => ({ apiVersion: 'vnet.dev/v1alpha1', kind: 'LoadBalancer', metadata: { name: 'web', namespace }, spec: { network: 'blue', listeners } });
const WEB = lb([
  { protocol: 'TCP', port: 80, targetPort: 8080 },
  { protocol: 'UDP', port: 53 },
  { protocol: 'TCP', port: 443, targetPort: 443 },
]);

describe('setTargetPortOps (vnetctl lb set-listener)', () => {
  it('sets the target port of each listener named by port and protocol, "add" where none is stored', () => {
    expect(setTargetPortOps(WEB, [parseListen('80:8081/tcp'), parseListen('53:5353/udp')])).toEqual([
      { op: 'add', path: '/spec/listeners/0/targetPort', value: 8081 },
      { op: 'add', path: '/spec/listeners/1/targetPort', value: 5353 },
    ]);
    // Without :TARGET, the port itself: a target port put back.
    expect(setTargetPortOps(WEB, [parseListen('80')])).toEqual([{ op: 'add', path: '/spec/listeners/0/targetPort', value: 80 }]);
  });

  it('refuses a listener it does not have, naming those it has and how to add one', () => {
    expect(() => setTargetPortOps(WEB, [parseListen('80:8081/udp')])).toThrow(
      'cannot set listener 80/udp of loadbalancer "web": it does not listen there (it listens on 80:8080/tcp, 53/udp, 443/tcp); to add it: vnetctl lb add-listener web --listen 80:8081/udp -n t1',
    );
  });

  it('refuses a change that changes nothing, also when the stored listener has no targetPort', () => {
    expect(() => setTargetPortOps(WEB, [parseListen('80:8080')])).toThrow('cannot set listener 80/tcp of loadbalancer "web": its target port is already 8080 (80:8080/tcp): nothing to change');
    expect(() => setTargetPortOps(WEB, [parseListen('53/udp')])).toThrow('its target port is already 53 (53/udp): nothing to change');
    // One of several unchanged: nothing is sent for any.
    expect(() => setTargetPortOps(WEB, [parseListen('80:9090'), parseListen('443')])).toThrow(/443\/tcp .*nothing to change/);
  });
});

describe('targetPortHint (vnetctl lb add-listener on a port it listens on)', () => {
  it('points at vnetctl lb set-listener, not a kubectl patch (QA: day-2 steps needed hand-written JSON patches)', () => {
    const hint = targetPortHint(WEB, 0, parseListen('80:8081/tcp'));
    expect(hint).toBe('; to change its target port in place: vnetctl lb set-listener web --listen 80:8081/tcp -n t1');
    expect(targetPortHint(WEB, 1, parseListen('53:5353/udp'))).toBe('; to change its target port in place (its running UDP flows follow it): vnetctl lb set-listener web --listen 53:5353/udp -n t1');
    expect(targetPortHint(WEB, 0, parseListen('80:8080'))).toBe(': nothing to add');
  });
});
