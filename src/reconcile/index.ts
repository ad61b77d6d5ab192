export * from './rate-limiter';
export * from './work-queue';
export * from './informer';
export * from './controller';
export * from './conditions';
export * from './finalizers';
