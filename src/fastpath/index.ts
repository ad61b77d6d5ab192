export * from './types';
export { FastPath, FastPathError, TableBuilder, Classifier, FrameBatch, openFastPath, encapsulate, decapsulate, maglevRing } from './fastpath';
export { findLibrary, loadNative, type NativeLib } from './native';
export { openXskPort, XskPort, XdpMode, NO_PORT, type XskStats } from './xsk';
