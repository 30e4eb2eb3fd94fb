import { keepAliveBudget, retransmissionTimeoutMs } from '../socket/budget.js';
import { ADDRESSES, type Topology } from './topology.js';
import type { ArmConfig, ScenarioName } from './types.js';

/** Knobs of the faults themselves (not of the arms). */
export interface FaultSettings {
  /** How long each run watches after the fault. */
  windowMs: number;
  /** lossy-link: percent of packets dropped each way. */
  lossPercent: number;
  /** nat-expiry: the router's conntrack timeout for established flows. */
  natTimeoutMs: number;
  /** tcp_retries2 of the server's namespace (for the busy budget without a user timeout). */
  retries2: number;
}

export const DEFAULT_FAULT_SETTINGS: FaultSettings = { windowMs: 20_000, lossPercent: 25, natTimeoutMs: 10_000, retries2: 15 };

export interface FaultContext {
  topology: Topology;
  settings: FaultSettings;
  /** Makes the client write a line to the server. */
  clientSends(text: string): void;
  /** Waits, bounded by the run's window. */
  sleep(ms: number): Promise<void>;
}

export interface Scenario {
  name: ScenarioName;
  /** What happens, in one line. */
  summary: string;
  /** What the kernel documents, in one line: what a faithful lab shows. */
  expected: string;
  needsNft: boolean;
  serverBehaviour: 'idle' | 'stream';
  clientBehaviour: 'read' | 'no-read';
  /** Whether the client is alive throughout: a verdict is then a false positive. */
  peerAlive: boolean;
  /** Before the connection is made (e.g. NAT on the router). */
  setup?(topology: Topology, settings: FaultSettings): void;
  /** At t = 0; may go on acting during the window (it is not awaited past the window). */
  fault(context: FaultContext): Promise<void>;
  /** What the settings promise: ms from the last packet the server received to its verdict; null = never. */
  budget(config: ArmConfig, settings: FaultSettings): number | null;
}

/** A dead peer: keepalive's idle budget, or the heartbeat's timeout (it sees idle and busy connections alike). */
const idleBudget = ({ enabled, idle, interval, count, userTimeout, heartbeat }: ArmConfig) =>
  heartbeat ? heartbeat.timeout : keepAliveBudget({ enabled, idle, interval, count, userTimeout }).idleMs;

/** A peer that forgot the connection answers the first probe or ping with RST. */
const firstProbe = (config: ArmConfig) => (config.heartbeat ? config.heartbeat.interval : config.enabled ? config.idle : null);

const dropForward = (rule: string) => `
table inet lab {
  chain forward {
    type filter hook forward priority 0; policy accept;
    ${rule}
  }
}
`;

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'cable-pull',
    summary: "the client's cable is pulled while the connection is idle (the article's experiment)",
    expected: 'keepalive finds it after idle + interval x count; without keepalive never',
    needsNft: false,
    serverBehaviour: 'idle',
    clientBehaviour: 'read',
    peerAlive: false,
    fault: async ({ topology }) => topology.pullClientCable(),
    budget: idleBudget,
  },
  {
    name: 'cable-pull-busy',
    summary: "the client's cable is pulled while the server is sending to it",
    expected: 'keepalive never fires with data in flight; only a user timeout (or a heartbeat) finds it',
    needsNft: false,
    serverBehaviour: 'stream',
    clientBehaviour: 'read',
    peerAlive: false,
    fault: async ({ topology }) => topology.pullClientCable(),
    budget: (config, settings) =>
      config.heartbeat ? config.heartbeat.timeout : config.userTimeout > 0 ? config.userTimeout : retransmissionTimeoutMs(settings.retries2),
  },
  {
    name: 'peer-reboot',
    summary: 'the client host dies and comes back with the same address, knowing nothing of the connection',
    expected: 'the next keepalive probe (or write) gets RST: ECONNRESET after idle',
    needsNft: false,
    serverBehaviour: 'idle',
    clientBehaviour: 'read',
    peerAlive: false,
    fault: async ({ topology }) => {
      topology.killClientHost();
      topology.bootClientHost();
    },
    budget: firstProbe,
  },
  {
    name: 'host-down',
    summary: 'the client host dies and stays down; the router answers for it with ICMP (no route)',
    expected: 'like cable-pull: ICMP errors for keepalive probes are ignored, so ETIMEDOUT after the budget',
    needsNft: false,
    serverBehaviour: 'idle',
    clientBehaviour: 'read',
    peerAlive: false,
    fault: async ({ topology }) => topology.killClientHost(),
    budget: idleBudget,
  },
  {
    name: 'nat-expiry',
    summary: 'the router NATs the client and forgets idle flows after the conntrack timeout; the client writes after it',
    expected: 'keepalive idle below the NAT timeout keeps the flow; above it the flow dies silently and the late message is lost',
    needsNft: true,
    serverBehaviour: 'idle',
    clientBehaviour: 'read',
    peerAlive: true,
    setup: (topology, settings) => {
      // Without loose=0 and the invalid drop, a packet of an expired flow would silently re-create the entry.
      topology.nft(
        'router',
        `table ip lab_nat {
  chain postrouting {
    type nat hook postrouting priority 100;
    oifname "eth-s" masquerade
  }
}
${dropForward('ct state invalid drop')}`,
      );
      topology.sysctl('router', 'net.netfilter.nf_conntrack_tcp_loose', '0');
      topology.sysctl('router', 'net.netfilter.nf_conntrack_tcp_timeout_established', String(Math.ceil(settings.natTimeoutMs / 1000)));
    },
    fault: async ({ settings, clientSends, sleep }) => {
      // The fault is time itself: past the NAT timeout the client speaks, and the server may never hear it.
      await sleep(Math.min(settings.windowMs - 2000, settings.natTimeoutMs + 3000));
      clientSends('are you there?');
    },
    budget: () => null,
  },
  {
    name: 'lossy-link',
    summary: 'the router drops a share of packets both ways for the whole window; the peer is alive',
    expected: 'reasonable settings give no false verdict; too few, too fast probes can kill a healthy connection',
    needsNft: true,
    serverBehaviour: 'idle',
    clientBehaviour: 'read',
    peerAlive: true,
    fault: async ({ topology, settings }) => topology.nft('router', dropForward(`numgen random mod 100 < ${settings.lossPercent} drop`)),
    budget: () => null,
  },
  {
    name: 'zero-window',
    summary: 'the client is alive but stops reading while the server writes (its window closes)',
    expected: 'a user timeout kills this live but slow peer (a false positive); keepalive does not',
    needsNft: false,
    serverBehaviour: 'stream',
    clientBehaviour: 'no-read',
    peerAlive: true,
    fault: async () => {},
    budget: () => null,
  },
  {
    name: 'rst-injection',
    summary: "the router answers the client's packets with RST and forwards none of them to the server",
    expected: 'the client learns at once (ECONNRESET); the server only when its own probe meets the RST of a host that forgot the flow',
    needsNft: true,
    serverBehaviour: 'idle',
    clientBehaviour: 'read',
    peerAlive: false,
    fault: async ({ topology, clientSends, sleep }) => {
      topology.nft(
        'router',
        dropForward(`ip saddr ${ADDRESSES.client} ip daddr ${ADDRESSES.server} tcp flags & rst == 0 reject with tcp reset`),
      );
      await sleep(300);
      clientSends('hello?');
    },
    budget: firstProbe,
  },
];

export function scenario(name: ScenarioName): Scenario {
  const found = SCENARIOS.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no scenario ${name}`);
  return found;
}
