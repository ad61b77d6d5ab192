/**
 * Which TLS failure a Node/OpenSSL error code is, for the API's clients (the agent, vnetctl):
 * none of them is mended by retrying, and each has its own remedy. (src/ovsdb classifies the
 * same codes for itself: it is a standalone library.)
 */

/** Node's X509 verify-error codes (and its name check): a server certificate we did not accept. */
const SERVER_CERTIFICATE =
  /^(UNABLE_TO_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|INVALID_CA$|INVALID_PURPOSE$|PATH_LENGTH_EXCEEDED$|HOSTNAME_MISMATCH$|ERR_TLS_CERT_ALTNAME_INVALID$)/;
/** Alerts from the server about our certificate (OpenSSL names them ..._ALERT_...). */
const CLIENT_CERTIFICATE = /^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_.*|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)$/;
/** What answered does not speak TLS (plain HTTP, another protocol): a wrong address or scheme. */
const NOT_TLS = /^(EPROTO|ERR_SSL_WRONG_VERSION_NUMBER|ERR_SSL_PACKET_LENGTH_TOO_LONG|ERR_SSL_HTTP_REQUEST)$/;

/** A server certificate out of its validity period: signed by the right CA, but expired or not valid yet (a clock). */
const SERVER_CERTIFICATE_DATES = /^(CERT_HAS_EXPIRED|CERT_NOT_YET_VALID)$/;
/** A server certificate that does not name the address the client asked for. */
const SERVER_NAME = /^(HOSTNAME_MISMATCH|ERR_TLS_CERT_ALTNAME_INVALID)$/;

export type TlsFailure = 'server-certificate' | 'server-certificate-dates' | 'server-name' | 'client-certificate' | 'not-tls';

export function tlsFailureOf(code: string): TlsFailure | undefined {
  // Before the general server-certificate test, which takes every CERT_ code.
  if (SERVER_CERTIFICATE_DATES.test(code)) return 'server-certificate-dates';
  if (SERVER_NAME.test(code)) return 'server-name';
  if (SERVER_CERTIFICATE.test(code)) return 'server-certificate';
  if (CLIENT_CERTIFICATE.test(code)) return 'client-certificate';
  if (NOT_TLS.test(code)) return 'not-tls';
  return undefined;
}

/**
 * OpenSSL's reason in a Node error message ("wrong version number"), without the library's
 * error number and file:line trail (which also ends in a newline); undefined for other messages.
 */
export function opensslReason(message: string): string | undefined {
  return /SSL routines:[^:]*:([^:]+)/.exec(message)?.[1]?.trim();
}
