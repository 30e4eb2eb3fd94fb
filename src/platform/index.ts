import { darwinSocketOptions } from './darwin.js';
import { linuxSocketOptions } from './linux.js';
import { createNodeOnlyBackend } from './node-only.js';
import { createPosixBackend } from './posix.js';
import type { PlatformBackend } from './types.js';

export type * from './types.js';

let backend: PlatformBackend | undefined;

/** The only `process.platform` switch in lifeline. */
export function platformBackend(): PlatformBackend {
  backend ??= select(process.platform);
  return backend;
}

function select(platform: NodeJS.Platform): PlatformBackend {
  switch (platform) {
    case 'linux':
      return createPosixBackend(linuxSocketOptions);
    case 'darwin':
      return createPosixBackend(darwinSocketOptions);
    default:
      // Windows and the rest: libuv counts the idle time in whole seconds there too.
      return createNodeOnlyBackend(platform === 'win32' ? 'win32' : 'generic', linuxSocketOptions.limits);
  }
}
