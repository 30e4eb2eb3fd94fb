/**
 * What the running Node can do by itself. Kept apart from the platform modules because it depends on the
 * runtime's version, not on the operating system.
 */

/**
 * Node accepts socket.setKeepAlive(enable, initialDelay, interval, count) from 24.19 on the 24 line and from 26.4
 * (nodejs/node PR 63825). Earlier versions silently ignore the extra arguments, so the version decides.
 */
export function nodeHasKeepAliveIntervalCount(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map((part) => Number.parseInt(part, 10));
  if (major >= 27) return true;
  if (major === 26) return minor >= 4;
  if (major === 24) return minor >= 19;
  return false;
}

let extendedKeepAlive: boolean | undefined;

/**
 * Test hook and escape hatch: LIFELINE_NODE_KEEPALIVE=classic makes lifeline ignore Node's newer signature. Read
 * once per process: it is asked on every setKeepAlive, and reading process.env is a call into C++ (the liveness
 * benchmark found it costing 20 us a socket).
 */
export function nodeExtendedKeepAliveEnabled(): boolean {
  extendedKeepAlive ??= process.env['LIFELINE_NODE_KEEPALIVE'] !== 'classic' && nodeHasKeepAliveIntervalCount();
  return extendedKeepAlive;
}
