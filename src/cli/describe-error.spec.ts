import { describeError } from './describe-error';
import { ApiStatusError } from './errors';

const invalid = (message: string, field = 'spec.vip') =>
  new ApiStatusError(422, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Invalid', code: 422, message, details: { kind: 'loadbalancers', name: 'web', causes: [{ field, reason: 'FieldValueInvalid', message }] } });

describe('describeError: an Invalid answer', () => {
  it('says a full network is to be given addresses, not a value to fix', () => {
    const text = describeError(invalid('no free address left in VirtualNetwork "q29" for a VIP: every subnet is full; add a subnet to the network, or delete ports or load balancers that hold its addresses'));
    // Said once (QA: the message and the hint both said to add a subnet or free some).
    expect(text).toMatch(/delete ports or load balancers that hold its addresses; then run the command again$/);
    expect(text.match(/add a subnet/g)).toHaveLength(1);
    expect(text).not.toContain('fix the values');
  });

  it('says to fix the values for a wrong value', () => {
    expect(describeError(invalid('Invalid value: "10.9.9.9": not in any subnet of VirtualNetwork "net"'))).toContain('fix the values and run the command again');
  });
});
