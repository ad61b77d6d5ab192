/**
 * Standalone OVSDB (RFC 7047 + ovsdb-server extensions) client library.
 * Layers, importing one way: wire -> jsonrpc -> schema -> ops -> cache -> client.
 */
export type { Json, JsonObject } from './wire/json';
export * from './wire/rpc';
export * from './errors';
export type { OvsdbLogger } from './logger';
export { JsonStreamSplitter, encodeMessage, DEFAULT_MAX_MESSAGE_SIZE } from './jsonrpc/framing';
export { JsonRpcConnection, type JsonRpcConnectionOptions } from './jsonrpc/connection';
export { parseEndpoint, formatEndpoint, dial, type Endpoint, type TlsOptions } from './jsonrpc/transport';
export * from './schema/schema';
export * from './schema/atoms';
export * from './schema/row';
export * from './ops/condition';
export * from './ops/mutation';
export * from './ops/operations';
export * from './ops/results';
export { TableCache, type RowChange, type ChangeKind, type ChangeListener } from './cache/table-cache';
export { RowCache, type IndexKeyFn } from './cache/row-cache';
export { Backoff, type BackoffOptions } from './client/backoff';
export * from './client/options';
export { createOvsdbClient } from './client/client';
