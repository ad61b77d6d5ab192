import { ApiError } from '../resources/status';
import { acceptsWhatIsWritten, assertAcceptable } from './negotiate';

describe('output media type negotiation', () => {
  it('serves what kubectl and client-go ask for: JSON, YAML, Tables, protobuf with a JSON fallback, anything', () => {
    for (const accept of [
      undefined,
      '',
      'application/json',
      'application/yaml',
      '*/*',
      'application/*',
      'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json',
      'application/vnd.kubernetes.protobuf,application/json',
      'application/vnd.kubernetes.protobuf, */*',
      'application/json;stream=watch',
      'Application/JSON',
    ]) {
      expect([accept, acceptsWhatIsWritten(accept)]).toEqual([accept, true]);
    }
  });

  it('answers 406 NotAcceptable naming what it writes to a client that accepts none of it (QA: protobuf-only clients got JSON they could not decode)', () => {
    for (const accept of ['application/vnd.kubernetes.protobuf', 'application/vnd.kubernetes.protobuf;stream=watch', 'text/html', 'application/json;q=0, application/vnd.kubernetes.protobuf', 'application/xml']) {
      expect([accept, acceptsWhatIsWritten(accept)]).toEqual([accept, false]);
    }
    let thrown: unknown;
    try {
      assertAcceptable('application/vnd.kubernetes.protobuf');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    expect((thrown as ApiError).toStatus()).toMatchObject({
      code: 406,
      reason: 'NotAcceptable',
      message: 'only the following media types are accepted: application/json, application/yaml (asked for application/vnd.kubernetes.protobuf)',
    });
  });
});
