import { InvalidOptionError } from '../errors.js';
import type { KeepAliveOptions } from '../socket/options.js';
import { ArmNames, type ArmName } from './types.js';

/** The values the `node`, `tuned` and `tuned-uto` arms use; chosen per run with flags. */
export interface ArmValues {
  idle: number;
  interval: number;
  count: number;
  userTimeout: number;
  /** The `heartbeat` arm: the agreed interval, and the silence after which the peer is dead. */
  heartbeatInterval: number;
  heartbeatTimeout: number;
}

/** Small enough that every scenario's whole run stays near its window (a full lab run under 4 minutes). */
export const DEFAULT_ARM_VALUES: ArmValues = { idle: 2000, interval: 1000, count: 3, userTimeout: 3000, heartbeatInterval: 2000, heartbeatTimeout: 3000 };

/** How the server agent sets a connection up for one arm. */
export interface ArmSetup {
  arm: ArmName;
  /**
   * Options for lifeline's setKeepAlive, `node` for Node's own socket.setKeepAlive(true, idle), or `heartbeat` for
   * the lifeline protocol (no keepalive; the heartbeat engine decides).
   */
  keepalive: KeepAliveOptions | { node: number } | { heartbeat: { interval: number; timeout: number } };
  description: string;
}

export function armSetup(arm: ArmName, values: ArmValues = DEFAULT_ARM_VALUES): ArmSetup {
  switch (arm) {
    case 'off':
      return { arm, keepalive: { enabled: false }, description: 'no SO_KEEPALIVE (the article\'s "no")' };
    case 'system':
      return { arm, keepalive: {}, description: 'SO_KEEPALIVE only: the namespace\'s sysctl defaults (the article\'s "yes")' };
    case 'node':
      return { arm, keepalive: { node: values.idle }, description: `socket.setKeepAlive(true, ${values.idle}), as a Node user writes it` };
    case 'tuned':
      return {
        arm,
        keepalive: { idle: values.idle, interval: values.interval, count: values.count },
        description: `lifeline setKeepAlive idle ${values.idle} ms, interval ${values.interval} ms, count ${values.count}`,
      };
    case 'tuned-uto':
      return {
        arm,
        keepalive: { idle: values.idle, interval: values.interval, count: values.count, userTimeout: values.userTimeout },
        description: `lifeline setKeepAlive idle ${values.idle} ms, interval ${values.interval} ms, count ${values.count}, user timeout ${values.userTimeout} ms`,
      };
    case 'heartbeat':
      return {
        arm,
        keepalive: { heartbeat: { interval: values.heartbeatInterval, timeout: values.heartbeatTimeout } },
        description: `lifeline protocol: heartbeat every ${values.heartbeatInterval} ms of silence, dead after ${values.heartbeatTimeout} ms`,
      };
  }
}

export function parseArm(name: string): ArmName {
  if ((ArmNames as readonly string[]).includes(name)) return name as ArmName;
  throw new InvalidOptionError('--arm', name, `one of ${ArmNames.join(', ')}`);
}
