import { judgePings } from './ping';

describe('judgePings', () => {
  it('judges the first N pings by their replies: an unreachable answer and a tail reply do not count', () => {
    const out = [
      'PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.',
      '64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.4 ms',
      'From 10.0.0.1 icmp_seq=2 Destination Host Unreachable',
      '64 bytes from 10.0.0.2: icmp_seq=3 ttl=64 time=0.5 ms',
      '64 bytes from 10.0.0.2: icmp_seq=5 ttl=64 time=0.5 ms',
      '--- 10.0.0.2 ping statistics ---',
      '5 packets transmitted, 3 received, +1 errors, 40% packet loss, time 40ms',
    ].join('\n');
    expect(judgePings(out, 4)).toEqual({ sent: 4, received: 2, missing: [2, 4] });
  });
});
