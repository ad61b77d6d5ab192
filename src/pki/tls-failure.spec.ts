import { opensslReason, tlsFailureOf } from './tls-failure';

describe('tlsFailureOf', () => {
  it('tells a server certificate not trusted, our certificate refused, and a server that does not speak TLS from network errors', () => {
    for (const code of ['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE']) {
      expect([code, tlsFailureOf(code)]).toEqual([code, 'server-certificate']);
    }
    // Signed by the right CA, but out of its dates, or naming other addresses: their own remedies
    // (QA-93: an expired certificate was told to refresh the kubeconfig).
    for (const code of ['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']) expect([code, tlsFailureOf(code)]).toEqual([code, 'server-certificate-dates']);
    for (const code of ['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']) expect([code, tlsFailureOf(code)]).toEqual([code, 'server-name']);
    for (const code of ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED']) {
      expect([code, tlsFailureOf(code)]).toEqual([code, 'client-certificate']);
    }
    for (const code of ['EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER']) expect([code, tlsFailureOf(code)]).toEqual([code, 'not-tls']);
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']) {
      expect([code, tlsFailureOf(code)]).toEqual([code, undefined]);
    }
  });
});

describe('opensslReason', () => {
  it("keeps OpenSSL's reason without its error number and file:line trail", () => {
    const node20 = 'write EPROTO 800CE66E8D7F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:\n';
    expect(opensslReason(node20)).toBe('wrong version number');
    expect(opensslReason('connect ECONNREFUSED 127.0.0.1:1')).toBeUndefined();
  });
});
