import { release, arch } from 'node:os';
import type { Command } from 'commander';
import { capabilities } from '../socket/capabilities.js';
import { checkKeepAliveRoundTrip, CHECK_OPTIONS } from '../socket/self-check.js';
import type { KeepAliveField, OptionCapability } from '../platform/types.js';
import { describeKeepAlive, printJson, printLines, table } from './output.js';

const OPTION_NAMES: Record<KeepAliveField, string> = {
  enabled: 'SO_KEEPALIVE',
  idle: 'TCP_KEEPIDLE',
  interval: 'TCP_KEEPINTVL',
  count: 'TCP_KEEPCNT',
  userTimeout: 'TCP_USER_TIMEOUT',
};

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('show what this runtime and platform can do with keepalive, and check it on a loopback connection')
    .option('--json', 'print one JSON object')
    .action(async (flags: { json?: boolean }) => {
      const caps = capabilities();
      const checks = [...(await checkKeepAliveRoundTrip('127.0.0.1')), ...(await checkKeepAliveRoundTrip('::1'))];
      if (flags.json) {
        printJson({ ...caps, kernel: release(), arch: arch(), checks });
        return;
      }
      const setWith = (cap: OptionCapability) =>
        cap.set === 'node' ? "Node's socket.setKeepAlive" : cap.set === 'ffi' ? 'setsockopt (koffi)' : 'cannot be set';
      const readWith = (cap: OptionCapability) => (cap.read === 'ffi' ? 'getsockopt (koffi)' : 'cannot be read back');
      printLines([
        `Node ${caps.node} (libuv ${caps.libuv}) on ${caps.platform} ${arch()}, kernel ${release()}`,
        `platform module: ${caps.backend}${caps.tested ? ' (tested by lifeline)' : ' (written from documentation, NOT tested)'}`,
        `FFI: ${caps.ffi.available ? `koffi, ${caps.ffi.library}` : `unavailable (${caps.ffi.error})`}`,
        `Node's setKeepAlive(enable, idle, interval, count): ${caps.nodeKeepAliveIntervalCount ? 'yes' : 'no (Node >= 24.19 or >= 26.4 has it)'}`,
        '',
        ...table([
          ['option', 'set with', 'read back with'],
          ...(Object.keys(OPTION_NAMES) as KeepAliveField[]).map((field) => [
            OPTION_NAMES[field],
            setWith(caps.options[field]),
            readWith(caps.options[field]),
          ]),
          ['TCP_INFO', '-', caps.tcpInfo ? 'getsockopt (koffi)' : 'cannot be read'],
        ]),
        '',
        `live check: set ${describeKeepAlive({ enabled: true, ...CHECK_OPTIONS })} and read it back`,
        ...table(
          checks.map((check) => [
            `${check.host} ${check.side}`,
            check.ok ? 'ok' : 'FAILED',
            check.kernel ? `kernel holds ${describeKeepAlive(check.kernel)}` : `${check.error?.code}: ${check.error?.message}`,
          ]),
        ),
      ]);
      if (checks.some((check) => !check.ok && check.host === '127.0.0.1')) process.exitCode = 1;
    });
}
