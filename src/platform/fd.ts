import type { Socket } from 'node:net';

/**
 * Node keeps a socket's file descriptor on its private handle. A plain TCP socket has it on `_handle.fd`; a TLS
 * socket wraps the TCP handle (`_handle._parent`) or an existing net.Socket (`_parent`). This is the only place
 * that reaches into those internals, so a Node change breaks one function with a clear error, not the library.
 * @returns the fd, or -1 while the socket has none yet (not connected) or no longer has one (destroyed).
 */
export function socketFd(socket: Socket): number {
  const seen = new Set<unknown>();
  const queue: unknown[] = [socket];
  while (queue.length > 0) {
    const item = queue.shift();
    if (item === null || typeof item !== 'object' || seen.has(item)) continue;
    seen.add(item);
    const record = item as Record<string, unknown>;
    const fd = record['fd'];
    if (item !== socket && typeof fd === 'number' && fd >= 0) return fd;
    queue.push(record['_handle'], record['_parent'], record['_parentWrap']);
  }
  return -1;
}
