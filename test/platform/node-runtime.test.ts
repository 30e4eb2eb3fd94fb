import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeHasKeepAliveIntervalCount } from '../../src/platform/node-runtime.js';

test("node-runtime: knows which Node versions take setKeepAlive's interval and count", () => {
  const cases: [string, boolean][] = [
    ['20.20.2', false], ['22.99.0', false], ['24.18.9', false], ['24.19.0', true], ['25.9.0', false],
    ['26.3.1', false], ['26.4.0', true], ['26.10.0', true], ['27.0.0', true],
  ];
  for (const [version, expected] of cases) assert.equal(nodeHasKeepAliveIntervalCount(version), expected, version);
});
