/** The lab's data model: what a run measured, as printed, written to JSON and drawn in the HTML report. */

export const ScenarioNames = [
  'cable-pull',
  'cable-pull-busy',
  'peer-reboot',
  'host-down',
  'nat-expiry',
  'lossy-link',
  'zero-window',
  'rst-injection',
] as const;
export type ScenarioName = (typeof ScenarioNames)[number];

export const ArmNames = ['off', 'system', 'node', 'tuned', 'tuned-uto', 'heartbeat'] as const;
export type ArmName = (typeof ArmNames)[number];

/**
 * - `as-configured`: found dead within +-1 s of the budget its settings promise;
 * - `early` / `late`: found dead, but more than 1 s before / after that budget;
 * - `not-detected`: the peer was dead and nothing noticed within the window;
 * - `false-positive`: the peer was alive and was declared dead anyway;
 * - `survived`: the peer was alive and the connection lived through the window (correct);
 * - `flow-lost`: a middlebox dropped the flow and nobody noticed within the window.
 */
export const LabVerdicts = ['as-configured', 'early', 'late', 'not-detected', 'false-positive', 'survived', 'flow-lost'] as const;
export type LabVerdict = (typeof LabVerdicts)[number];

/** Keepalive as the server's kernel held it for the connection (ms), or null where nothing was set. */
export interface ArmConfig {
  arm: ArmName;
  /** How the arm was written, e.g. `socket.setKeepAlive(true, 2000)` or `setKeepAlive(socket, {idle: 2000, ...})`. */
  description: string;
  enabled: boolean;
  idle: number;
  interval: number;
  count: number;
  userTimeout: number;
  /** The lifeline protocol's heartbeat (the `heartbeat` arm): ping after `interval` of silence, dead after `timeout` of silence. */
  heartbeat: { interval: number; timeout: number } | null;
}

/** One thing seen on the wire or in the kernel's counters, relative to the fault. */
export interface TimelineEvent {
  /** Milliseconds after the fault (negative: before it). */
  t: number;
  /** Who sent it (for packets) or whose counters changed. */
  from: 'server' | 'client' | 'router' | 'kernel';
  kind:
    | 'syn'
    | 'data'
    | 'ack'
    | 'keepalive-probe'
    | 'keepalive-ack'
    | 'retransmission'
    | 'zero-window-probe'
    | 'zero-window'
    | 'fin'
    | 'rst'
    | 'icmp'
    | 'fault'
    | 'dead'
    | 'counter';
  detail: string;
}

export interface RunResult {
  scenario: ScenarioName;
  arm: ArmName;
  config: ArmConfig;
  /** What the settings promise for this scenario (ms from the last packet the server received); null: never. */
  budgetMs: number | null;
  /** From the fault to the server's verdict; null when it noticed nothing within the window. */
  detectedMs: number | null;
  /** From the last packet the server received to its verdict (the kernel's own count). */
  silentMs: number | null;
  code: string | null;
  reason: string | null;
  verdict: LabVerdict;
  /** Whether the server's kernel still held the connection ESTABLISHED at the end (ss), when nothing was detected. */
  establishedAtEnd: boolean | null;
  /** What the client side saw, where it saw something (e.g. rst-injection: the client learns at once). */
  client: { reason: string; code: string | null; detectedMs: number } | null;
  /** One line for people: what happened and why it is what the kernel documents. */
  note: string;
  timeline: TimelineEvent[];
  /** Where the timeline came from. */
  timelineSource: 'tcpdump' | 'tcp-info-polling';
  pcapFile: string | null;
  windowMs: number;
}

export interface LabEnvironment {
  kernel: string;
  node: string;
  libuv: string;
  platform: string;
  privileges: 'root' | 'user-namespace';
  nft: boolean;
  tcpdump: boolean;
  sysctls: { time: number; intvl: number; probes: number; retries2: number };
  date: string;
}

export interface LabReport {
  runs: RunResult[];
  skipped: { scenario: ScenarioName; reason: string }[];
  environment: LabEnvironment;
}
