/** The DNS query vnetctl's --health-dns-query sends as a UDP health check's payload. */

/**
 * A standard DNS query (RFC 1035 4.1): one question for `name`, type A, class IN, recursion
 * desired, with the given id. What keepalived's DNS_CHECK sends: any answer (NXDOMAIN
 * included) shows the server alive. Throws on a name that is not one (empty label, a label
 * over 63 bytes, over 253 in all).
 */
export function dnsQuery(name: string, id: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  if (name === '' || name === '.' || labels.some((l) => l.length === 0 || Buffer.byteLength(l) > 63) || Buffer.byteLength(name.replace(/\.$/, '')) > 253) {
    throw new Error(`"${name}" is not a DNS name: labels of 1 to 63 bytes separated by dots, at most 253 in all`);
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id & 0xffff, 0);
  header.writeUInt16BE(0x0100, 2); // QR=0 query, opcode 0, RD=1
  header.writeUInt16BE(1, 4); // QDCOUNT
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)])), Buffer.from([0])]);
  const question = Buffer.alloc(4);
  question.writeUInt16BE(1, 0); // QTYPE A
  question.writeUInt16BE(1, 2); // QCLASS IN
  return Buffer.concat([header, qname, question]);
}
