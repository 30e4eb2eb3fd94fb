import { UnsupportedError } from '../errors.js';
import { nodeExtendedKeepAliveEnabled } from './node-runtime.js';
import {
  KEEPALIVE_FIELDS,
  type Capabilities,
  type KeepAliveField,
  type OptionCapability,
  type PlatformBackend,
  type PlatformLimits,
} from './types.js';

/**
 * Platforms reached only through Node's own socket.setKeepAlive: Windows, and anything lifeline has no module for.
 * Nothing can be read back and there is no user timeout; both are reported, never pretended.
 * Windows is written from libuv's documentation and NOT tested by this project.
 */
export function createNodeOnlyBackend(name: string, limits: PlatformLimits): PlatformBackend {
  const setPath = (field: KeepAliveField): 'node' | null => {
    if (field === 'enabled' || field === 'idle') return 'node';
    if ((field === 'interval' || field === 'count') && nodeExtendedKeepAliveEnabled()) return 'node';
    return null;
  };
  return {
    name,
    tested: false,
    limits,
    capabilities(): Capabilities {
      const options = Object.fromEntries(
        KEEPALIVE_FIELDS.map((field): [KeepAliveField, OptionCapability] => [field, { set: setPath(field), read: null }]),
      ) as Record<KeepAliveField, OptionCapability>;
      return {
        platform: process.platform,
        backend: name,
        tested: false,
        node: process.versions.node,
        libuv: process.versions.uv ?? 'unknown',
        nodeKeepAliveIntervalCount: nodeExtendedKeepAliveEnabled(),
        ffi: { available: false, library: null, error: `lifeline has no FFI path on ${process.platform}` },
        options,
        tcpInfo: false,
      };
    },
    read() {
      throw new UnsupportedError('reading keepalive options back', `lifeline has no getsockopt path on ${name}`);
    },
    write(socket, _fd, change, current) {
      const enabled = change.enabled ?? current?.enabled ?? true;
      if (!enabled) {
        socket.setKeepAlive(false);
        return;
      }
      const idle = change.idle ?? current?.idle ?? 0;
      if (nodeExtendedKeepAliveEnabled() && (change.interval !== undefined || change.count !== undefined)) {
        (socket.setKeepAlive as (enable: boolean, idle: number, interval: number, count: number) => unknown)(
          true,
          idle,
          change.interval ?? current?.interval ?? 1000,
          change.count ?? current?.count ?? 10,
        );
      } else {
        socket.setKeepAlive(true, idle);
      }
    },
    tcpInfo: () => undefined,
    pendingError: () => undefined,
  };
}
