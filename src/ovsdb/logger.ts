/**
 * The slice of pino.Logger the library uses. Declared structurally so the library does
 * not depend on pino at runtime; a pino.Logger (or any compatible logger) is accepted.
 */
export interface OvsdbLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => undefined;
export const silentLogger: OvsdbLogger = { debug: noop, info: noop, warn: noop, error: noop };
