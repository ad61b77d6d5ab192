// Jest setup of the "e2e with fast path" project: joinBed() gives every test-bed
// hypervisor a fastPath spec when this is set, so the overlay suites run over AF_XDP.
process.env.VNETD_FASTPATH = '1';
