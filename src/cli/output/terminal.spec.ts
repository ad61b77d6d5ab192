import { paint } from './table';
import { escapeTerminal } from './terminal';

describe('escapeTerminal', () => {
  it("writes what others wrote (an agent's status, an annotation) without a control character the terminal would act on", () => {
    const osc52 = 'ok\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07';
    expect(escapeTerminal(osc52)).toBe('ok^[]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==^G');
    expect(escapeTerminal('Ready\x1b[2J\x1b[1;1Hall good')).toBe('Ready^[[2J^[[1;1Hall good');
    expect(escapeTerminal('a\rb\bc\x00')).toBe('a^Mb^Hc^@');
    expect(escapeTerminal('csi\u009b2J del\x7f')).toBe('csi\\u009b2J del\\u007f');
    // Concealed text (SGR 8) is not a colour vnetctl writes.
    expect(escapeTerminal('\x1b[8mhidden')).toBe('^[[8mhidden');
  });

  it("keeps newlines, tabs, vnetctl's own colours and the spinner's return and erase-line", () => {
    const table = `NAME\tREADY\n${paint('web', 'bold', true)}   ${paint('True', 'green', true)} ${paint('x', 'dim', true)} ${paint('y', 'red', true)}\n`;
    expect(escapeTerminal(table)).toBe(table);
    expect(escapeTerminal('\r\x1b[K')).toBe('\r\x1b[K');
  });

  it('leaves -o json JSON of the same value', () => {
    const value = { message: 'a\u009bb\x7fc\x1bd' };
    expect(JSON.parse(escapeTerminal(JSON.stringify(value)))).toEqual(value);
  });
});
