import pino from 'pino';
import type { OvsdbLogger } from './logger';
import { createOvsdbClient } from './client/client';

describe('logger', () => {
  it('accepts a pino.Logger where an OvsdbLogger is expected (checked by the compiler)', () => {
    const logger: OvsdbLogger = pino({ level: 'silent' });
    expect(() => createOvsdbClient({ endpoints: 'unix:/nonexistent', logger })).not.toThrow();
  });
});
