import type { Command } from 'commander';
import { formatDuration } from '../duration.js';
import { keepAliveBudget } from '../socket/budget.js';
import { capabilities } from '../socket/capabilities.js';
import { getKeepAlive, setKeepAlive } from '../socket/keepalive.js';
import { loopbackPair } from '../socket/loopback.js';
import { CHECK_OPTIONS } from '../socket/self-check.js';
import { readSysctls, sysctlsToDefaults } from '../system/sysctl.js';
import { describeKeepAlive, printJson, printLines } from './output.js';

/** The loopback demo: keepalive set on a real connection, read back from the kernel, its budget explained. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('set keepalive on a loopback connection, read it back from the kernel and explain the detection budget')
    .option('--json', 'print one JSON object')
    .action(async (flags: { json?: boolean }) => {
      const system = sysctlsToDefaults(readSysctls());
      const pair = await loopbackPair();
      try {
        const before = getKeepAlive(pair.client);
        const applied = setKeepAlive(pair.client, CHECK_OPTIONS);
        const kernel = getKeepAlive(pair.client);
        const acceptedBefore = getKeepAlive(pair.accepted);
        const budget = keepAliveBudget(CHECK_OPTIONS, system);
        const plain = keepAliveBudget({}, system);
        if (flags.json) {
          printJson({ requested: CHECK_OPTIONS, before, kernel, via: applied?.via, accepted: acceptedBefore, budget, systemOnly: plain });
          return;
        }
        const caps = capabilities();
        const client = `${pair.client.localAddress}:${pair.client.localPort} -> ${pair.client.remoteAddress}:${pair.client.remotePort}`;
        printLines([
          `lifeline demo: keepalive on a loopback connection (Node ${caps.node}, ${caps.platform})`,
          `  connection   ${client}`,
          `  before       ${describeKeepAlive(before)}`,
          `  asked        ${describeKeepAlive({ enabled: true, ...CHECK_OPTIONS })}`,
          `  kernel holds ${describeKeepAlive(kernel)}  (read back with getsockopt; set via ${[...new Set(Object.values(applied?.via ?? {}))].join(' + ')})`,
          `  other end    ${describeKeepAlive(acceptedBefore)}  (each socket has its own settings)`,
          '',
          'How long until a dead peer is found:',
          `  idle connection     ${formatDuration(budget.idleMs ?? Infinity)}  (idle + ${budget.probes} probes x interval)`,
          `  data in flight      ${formatDuration(budget.busyMs)}  (${budget.busyBound})`,
          `  only SO_KEEPALIVE   ${formatDuration(plain.idleMs ?? Infinity)} idle, ${formatDuration(plain.busyMs)} busy (this namespace's sysctls)`,
          `  no keepalive        never, while idle`,
          ...(budget.warnings.length > 0 ? ['', 'Warnings:', ...budget.warnings.map((warning) => `  ${warning.code}: ${warning.message}`)] : []),
        ]);
      } finally {
        await pair.close();
      }
    });
}
