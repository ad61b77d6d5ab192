// Jest's node environment, which also counts the file's failed tests and hooks on its
// global: fixtures print what they logged only then (test/support/log-ring.ts).
const { TestEnvironment } = require('jest-environment-node');

class FailureCountingEnvironment extends TestEnvironment {
  handleTestEvent(event) {
    if (event.name === 'test_fn_failure' || event.name === 'hook_failure') {
      this.global.__vnetdTestFailures = (this.global.__vnetdTestFailures ?? 0) + 1;
    }
  }
}

module.exports = FailureCountingEnvironment;
