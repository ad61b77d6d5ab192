export * from './errors';
export * from './random';
export * from './address';
export * from './subnet';
export * from './ip-allocator';
export * from './mac-allocator';
export * from './vni-allocator';
