export * from './rate-limiter';
export * from './work-queue';
export * from './informer';
export * from './shared-informers';
export * from './controller';
export * from './conditions';
export * from './finalizers';
