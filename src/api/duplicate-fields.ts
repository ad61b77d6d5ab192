/**
 * The fields a JSON text names twice in one object. JSON.parse keeps the last silently;
 * Kubernetes' field validation reports them (fieldValidation=Strict refuses the request,
 * Warn warns), so `"mtu": 1400, ..., "mtu": 9000` in a manifest is not applied as 9000
 * without a word. A scan of the text, not a parse: the text is known to be valid JSON
 * (JSON.parse has read it), so only strings, brackets, colons and commas need telling apart.
 */

/** An object or array being read: its field path, and for an object the keys seen so far. */
interface Frame {
  path: string;
  keys?: Set<string>;
  index: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** Where a string that starts at `from` (its opening quote) ends: the index after its closing quote. */
function stringEnd(text: string, from: number): number {
  for (let i = from + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i + 1;
  }
  return text.length;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** The paths (as "spec.subnets[0].cidr") of the fields `text` names more than once in one object, at most `limit` of them. */
export function duplicateFields(text: string, limit = 16): string[] {
  const found: string[] = [];
  const stack: Frame[] = [];
  /** The path the next value will have: set by a key in an object, by the index in an array. */
  let pending = '';
  for (let i = 0; i < text.length && found.length < limit; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      const top = stack[stack.length - 1];
      // A string in an object where a key may stand (after "{" or ","): followed by a colon.
      let j = end;
      while (j < text.length && text.charCodeAt(j) <= 0x20) j++;
      if (top?.keys && text.charCodeAt(j) === COLON) {
        const raw = text.slice(i + 1, end - 1);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end)) as string) : raw;
        if (top.keys.has(key)) found.push(join(top.path, key));
        else top.keys.add(key);
        pending = join(top.path, key);
        i = j;
      } else {
        i = end - 1;
      }
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      const path = stack.length === 0 ? '' : pending;
      stack.push(c === OPEN_OBJECT ? { path, keys: new Set(), index: 0 } : { path, index: 0 });
      if (c === OPEN_ARRAY) pending = `${path}[0]`;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      stack.pop();
    } else if (c === COMMA) {
      const top = stack[stack.length - 1];
      if (top && !top.keys) pending = `${top.path}[${++top.index}]`;
    }
  }
  return found;
}
