/**
 * Output media type negotiation for resource requests, as kube-apiserver does it before the
 * operation: a client that accepts none of what vnetd writes (JSON, YAML; Tables are JSON) gets
 * 406 NotAcceptable, nothing done. Objects are never written as protobuf: a client that asks for
 * protobuf only (client-go's ContentType set without a JSON fallback) used to get JSON it could
 * not decode.
 */
import { ApiErrors } from '../resources/status';

const WRITTEN = ['application/json', 'application/yaml'];

/** The media ranges of an Accept header that allow one of the types written (q=0 excludes). */
export function acceptsWhatIsWritten(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    if (params.some((p) => /^q=0(\.0*)?$/.test(p))) return false;
    if (type === '*/*' || type === 'application/*') return true;
    return WRITTEN.includes(type);
  });
}

/** Throws 406 with the types vnetd writes when the Accept header allows none of them. */
export function assertAcceptable(accept: string | undefined): void {
  if (!acceptsWhatIsWritten(accept)) {
    throw ApiErrors.notAcceptable(`only the following media types are accepted: ${WRITTEN.join(', ')} (asked for ${accept})`);
  }
}
