import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from './connection';

describe('reconnect logging', () => {
  it('says a switch that stays away is unreachable once, not on every attempt', async () => {
    const lines: Array<{ level: string; msg?: string; obj: Record<string, unknown> }> = [];
    const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, msg, obj: obj as Record<string, unknown> });
    const conn = createConnection(`unix:${join(tmpdir(), `vnetd-no-switch-${process.pid}.sock`)}`, {
      logger: { debug: at('debug'), info: at('info'), warn: at('warn') },
      reconnect: { initialDelayMs: 5, maxDelayMs: 10 },
    });
    try {
      await new Promise((r) => setTimeout(r, 400));
      // What Node status quotes while the switch is away (SwitchUnreachable).
      expect(conn.lastFailure).toMatch(/failed: connect ENOENT/);
    } finally {
      await conn.close();
    }
    const reconnecting = lines.filter((l) => l.msg === 'openflow reconnecting');
    expect(reconnecting).toHaveLength(1);
    expect(reconnecting[0]!.level).toBe('info');
    expect(String(reconnecting[0]!.obj.err)).toMatch(/ENOENT|ECONNREFUSED/);
    expect(lines.filter((l) => l.level !== 'debug' && l.msg !== 'openflow reconnecting')).toEqual([]);
  });
});
