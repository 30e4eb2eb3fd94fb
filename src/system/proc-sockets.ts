import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** A process holding a socket open. */
export interface SocketOwner {
  pid: number;
  /** /proc/<pid>/comm: the command name, at most 15 characters. */
  command: string;
}

export interface SocketOwners {
  /** Socket inode -> the processes holding it open, by pid (several after fork or fd passing). */
  byInode: Map<number, SocketOwner[]>;
  /** Processes looked at. */
  scanned: number;
  /** Processes whose file descriptors could not be read (other users' processes when not root). */
  unreadable: number;
}

export interface SocketOwnersOptions {
  /** Where procfs is mounted; a test points this at a directory of its own. Default `/proc`. */
  procRoot?: string;
  /** Look only at these processes (default: every process in procRoot). */
  pids?: readonly number[];
}

const SOCKET_LINK = /^socket:\[(\d+)\]$/;

/**
 * Maps socket inodes to the processes that hold them, from the `socket:[inode]` links in /proc/<pid>/fd.
 * Processes that cannot be read (EACCES, EPERM: another user's, without root) are counted and skipped; processes
 * that exit while being read are skipped. Socket inodes are global to the kernel, so this works for sockets
 * of any network namespace as long as their processes are visible in procRoot.
 */
export function readSocketOwners(options: SocketOwnersOptions = {}): SocketOwners {
  const root = options.procRoot ?? '/proc';
  const pids = options.pids ?? listPids(root);
  const byInode = new Map<number, SocketOwner[]>();
  let scanned = 0;
  let unreadable = 0;
  for (const pid of pids) {
    scanned++;
    let fds: string[];
    try {
      fds = readdirSync(join(root, String(pid), 'fd'));
    } catch (error) {
      if (isPermission(error)) unreadable++;
      continue;
    }
    let owner: SocketOwner | undefined;
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(join(root, String(pid), 'fd', fd));
      } catch {
        continue; // closed meanwhile
      }
      const match = SOCKET_LINK.exec(link);
      if (!match) continue;
      owner ??= { pid, command: readCommand(root, pid) };
      const inode = Number(match[1]);
      const owners = byInode.get(inode);
      if (!owners) byInode.set(inode, [owner]);
      else if (!owners.some((known) => known.pid === pid)) owners.push(owner);
    }
  }
  for (const owners of byInode.values()) owners.sort((a, b) => a.pid - b.pid);
  return { byInode, scanned, unreadable };
}

function listPids(root: string): number[] {
  return readdirSync(root)
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
}

function readCommand(root: string, pid: number): string {
  try {
    return readFileSync(join(root, String(pid), 'comm'), 'utf8').replace(/\n$/, '');
  } catch {
    return '?';
  }
}

function isPermission(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM';
}
