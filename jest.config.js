// @swc/jest compiles TypeScript (and the ESM-only NestJS / client-node packages) to
// CommonJS: ts-jest cannot load NestJS 12 on Node 20 (see shared/notes/machine-facts.md).
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];

const project = {
  // Node's, counting failed tests: fixtures print their logs only then.
  testEnvironment: '<rootDir>/test/support/jest-environment.js',
  rootDir: '.',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.test.ts'],
  transform: { '^.+\\.(t|j|mj)s$': swc },
  transformIgnorePatterns: [
    '/node_modules/(?!(@nestjs|cookie|file-type|strtok3|token-types|@tokenizer|uint8array-extras|load-esm|@kubernetes|openid-client|oauth4webapi|jose|hpagent|@fastify|fastify|jsonpath-plus|@jsep-plugin|jsep|rfc4648|yaml|isomorphic-ws|ws|stream-buffers|tar-fs)/)',
  ],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
};

/**
 * Two projects: everything, and the overlay end-to-end suites a second time with every
 * hypervisor's fast path on (the fast-path issue's bar: the pipeline's e2e suite passes
 * unchanged with it). `--selectProjects vnetd` runs the first only.
 */
/** @type {import('jest').Config} */
module.exports = {
  // A global option: inside a project entry Jest ignores it (and tests get its 5 s default).
  testTimeout: 60000,
  maxWorkers: 2,
  // Jest kills a worker that has not exited 500 ms (its default) after the run's end and
  // prints "A worker process has failed to exit gracefully ... tests leaking". Nothing leaks
  // here (each worker's event loop drains within ~100 ms of the end), but dying takes a worker
  // of this suite seconds: by then it holds 0.8-1 GB RSS, and freeing memory is slow on these
  // VMs (V8 unmapping its heap, then the kernel's exit_mmap; ~8 s measured at load 6-8 on 2
  // cores). A worker that really leaks a handle is still killed, and reported, after this.
  // test/integration/jest-worker-exit.test.ts measures it.
  workerGracefulExitTimeout: 30000,
  projects: [
    { ...project, displayName: 'vnetd' },
    {
      ...project,
      displayName: 'e2e with fast path',
      roots: ['<rootDir>/test/e2e'],
      testMatch: ['**/overlay*.test.ts'],
      // Already the fast path's own proof; run once, in the first project.
      testPathIgnorePatterns: ['/node_modules/', 'overlay-fastpath'],
      setupFiles: ['<rootDir>/test/support/fast-path-on.ts'],
    },
  ],
};
