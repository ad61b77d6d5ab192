/**
 * --backend PORT|IP[=WEIGHT]: a VirtualPort name or an address in the network, with an
 * optional weight (0-100; 0 drains it). Anything that parses as an IP address is an address;
 * port names are DNS labels, which never do.
 */
import { isIP } from 'node:net';
import type { Backend } from '../../resources/kinds';
import { canonicalIfIp } from '../../ipam/address';

export function parseBackend(spec: string): Backend {
  const text = spec.trim();
  const eq = text.lastIndexOf('=');
  const id = eq >= 0 ? text.slice(0, eq) : text;
  const weightText = eq >= 0 ? text.slice(eq + 1) : undefined;
  if (!id) throw new Error(`"${spec}" names no backend: use a port name or an IP, e.g. web-1 or 10.0.0.7=2`);
  let weight: number | undefined;
  if (weightText !== undefined) {
    if (!/^\d{1,3}$/.test(weightText) || Number(weightText) > 100) {
      throw new Error(`"${spec}": weight "${weightText}" must be a whole number from 0 (drain: no new connections) to 100`);
    }
    weight = Number(weightText);
  }
  const backend: Backend = isIP(id) ? { ip: id } : { port: id };
  if (!backend.ip && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(id)) {
    throw new Error(`"${spec}": "${id}" is neither an IP address nor a port name (lower-case letters, digits and '-')`);
  }
  if (weight !== undefined) backend.weight = weight;
  return backend;
}

/** Whether two backends name the same target (weights aside). */
export function sameBackend(a: Backend, b: Backend): boolean {
  if (a.port !== undefined || b.port !== undefined) return a.port === b.port;
  // As the server stores them (RFC 5952; an embedded IPv4 tail as hex groups too).
  return a.ip !== undefined && b.ip !== undefined && canonicalIfIp(a.ip) === canonicalIfIp(b.ip);
}


