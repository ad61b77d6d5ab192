import { UNDERLAY_MTU_FITS, UNDERLAY_MTU_TOO_SMALL, UPLINK_MTU_UNKNOWN, underlayMtuCondition } from './underlay-mtu';

describe('underlayMtuCondition', () => {
  const largest = { network: 't1/blue', mtu: 1450 };

  it('fits when every uplink carries the largest network MTU encapsulated', () => {
    expect(underlayMtuCondition([{ name: 'eth1', mtu: 1500 }], largest)).toMatchObject({ status: 'True', reason: UNDERLAY_MTU_FITS });
  });

  it('names the uplinks too small, the network, what it needs and the largest frame that still crosses (QA-155 F4: an uplink at 1400 dropped full-size frames while all said fine)', () => {
    const c = underlayMtuCondition([{ name: 'eth2', mtu: 9000 }, { name: 'eth1', mtu: 1400 }], largest);
    expect(c).toEqual({
      status: 'False',
      reason: UNDERLAY_MTU_TOO_SMALL,
      message: "eth1 has MTU 1400 on br-phy, but network t1/blue's MTU 1450 needs 1500 on the underlay (VXLAN or GENEVE adds 50): frames larger than 1350 bytes between hypervisors are dropped (vnetd neither fragments nor answers too-big); raise it (ip link set eth1 mtu 1500) or lower the network's spec.mtu",
    });
  });

  it('is Unknown without an uplink whose MTU is known, and True without a network: a False never outlives its cause (review)', () => {
    expect(underlayMtuCondition([], largest)).toMatchObject({ status: 'Unknown', reason: UPLINK_MTU_UNKNOWN });
    expect(underlayMtuCondition([{ name: 'eth1', mtu: null }], largest)).toMatchObject({ status: 'Unknown', reason: UPLINK_MTU_UNKNOWN });
    expect(underlayMtuCondition([{ name: 'eth1', mtu: 1400 }], undefined)).toMatchObject({ status: 'True', reason: UNDERLAY_MTU_FITS, message: 'no network to carry yet (br-phy\'s uplinks: eth1 1400)' });
  });
});
