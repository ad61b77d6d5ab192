import { quotaResourcesAtLimit, quotaUsageText } from './usage-text';

describe('a quota in words', () => {
  const quota = (hard: Record<string, string>, statusHard: Record<string, string>, used: Record<string, string>) => ({ spec: { hard }, status: { hard: statusHard, used } });

  it('names the resources at their limit by spec.hard, which admission enforces, before status.hard follows it', () => {
    const ports = 'count/virtualports.vnet.dev';
    const lbs = 'count/loadbalancers.vnet.dev';
    expect(quotaResourcesAtLimit(quota({ [ports]: '3', [lbs]: '2k' }, { [ports]: '3', [lbs]: '2k' }, { [ports]: '3', [lbs]: '5' }))).toEqual([ports]);
    // Raised to 10 a moment ago: the next port is allowed, though status still says 3.
    expect(quotaResourcesAtLimit(quota({ [ports]: '10' }, { [ports]: '3' }, { [ports]: '3' }))).toEqual([]);
    // Lowered below what is used: at (past) its limit at once.
    expect(quotaResourcesAtLimit(quota({ [ports]: '2' }, { [ports]: '10' }, { [ports]: '3' }))).toEqual([ports]);
    expect(quotaUsageText({ hard: { [ports]: '10' }, used: { [ports]: '3' } })).toBe(`${ports}: 3/10`);
    expect(quotaUsageText(undefined)).toBe('<none>');
  });
});
