/** Kubernetes-style request attributes (verb, resource) from a URL, for metrics and logs. */
export interface RequestInfo {
  verb: string;
  resource: string;
  subresource?: string;
}

export function requestInfo(method: string, url: string): RequestInfo {
  const [path, query = ''] = url.split('?', 2) as [string, string?];
  const parts = path.split('/').filter(Boolean);
  const isWatch = /(^|&)watch=(true|1)(&|$)/.test(query);
  let rest: string[];
  if (parts[0] === 'api' && parts[1] === 'v1') rest = parts.slice(2);
  else if (parts[0] === 'apis' && parts.length >= 3) rest = parts.slice(3);
  else return { verb: method.toLowerCase(), resource: path.startsWith('/openapi') ? 'openapi' : parts[0] ?? '' };
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  const [resource = '', name, subresource] = rest;
  let verb: string;
  switch (method) {
    case 'GET':
      verb = isWatch ? 'watch' : name ? 'get' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = 'delete';
      break;
    default:
      verb = method.toLowerCase();
  }
  return { verb, resource, subresource };
}
