import { platformBackend } from '../platform/index.js';
import type { Capabilities } from '../platform/types.js';

/**
 * What this runtime and platform can do: which keepalive options can be set and how (Node's own API or
 * setsockopt through the FFI), which can be read back, whether TCP_INFO is available, and why not where not.
 */
export function capabilities(): Capabilities {
  return platformBackend().capabilities();
}
