import { describeStoreConformance } from '../../store/store.conformance';
import { MemoryStore } from './memory-store';

// The fake must behave like the real backends, or tests built on it prove nothing.
describeStoreConformance('MemoryStore', async () => new MemoryStore());
