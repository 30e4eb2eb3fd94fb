import { getSystemErrorMap } from 'node:util';
import { formatShortDuration } from '../duration.js';
import type { KeepAliveState } from '../socket/keepalive.js';
import type { ConnectionSnapshot, DeadPeer } from '../socket/watched-connection.js';

/** The C library's words for an error code: ETIMEDOUT -> `Connection timed out`, as the article's server printed. */
export function strerror(code: string): string {
  for (const [, [name, message]] of getSystemErrorMap()) {
    if (name === code) return message.charAt(0).toUpperCase() + message.slice(1);
  }
  return code;
}

export function describeConfigured(keepalive: KeepAliveState | null): string {
  if (keepalive === null) return 'keepalive not read back';
  const uto = keepalive.userTimeout > 0 ? `, user timeout ${formatShortDuration(keepalive.userTimeout)}` : '';
  if (!keepalive.enabled) return `keepalive off${uto}`;
  return `keepalive ${formatShortDuration(keepalive.idle)},${formatShortDuration(keepalive.interval)},${keepalive.count}${uto}`;
}

/** `dead 198.51.100.2:55254 keepalive-timeout (ETIMEDOUT: Connection timed out) after 5.0 s silent; 3 keepalive probes unanswered (keepalive 2s,1s,3)` */
export function deadLine(dead: DeadPeer): string {
  const code = dead.code ? ` (${dead.code}: ${strerror(dead.code)})` : '';
  return `dead ${dead.remote} ${dead.reason}${code} after ${(dead.silentMs / 1000).toFixed(1)} s silent; ${dead.because} (${describeConfigured(dead.keepalive)})`;
}

export function acceptedLine(connection: ConnectionSnapshot, verb = 'accepted'): string {
  return `${verb} ${connection.remote} #${connection.id} (${describeConfigured(connection.keepalive)}, read back from the kernel)`;
}

/** The JSON line of an event: `{"ts":..., "event":..., ...}`. */
export function jsonEvent(event: string, fields: object): string {
  return JSON.stringify({ ts: Date.now(), event, ...fields });
}
