import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { armSetup, type ArmValues } from './arms.js';
import { AgentProcess, type AgentEvent } from './agent-process.js';
import type { ClientAgentConfig, ServerAgentConfig } from './agent.js';
import { judge } from './judge.js';
import { timelineFromPcapFile } from './pcap.js';
import type { FaultSettings, Scenario } from './scenarios.js';
import { ADDRESSES, Topology } from './topology.js';
import type { ArmConfig, ArmName, RunResult, TimelineEvent } from './types.js';

const AGENT = fileURLToPath(new URL('./agent.js', import.meta.url));
const PORT = 1234;

export interface RunOptions {
  scenario: Scenario;
  arm: ArmName;
  values: ArmValues;
  settings: FaultSettings;
  tcpdump: boolean;
  /** Keep the raw capture here (for Wireshark). */
  pcapDir: string | null;
}

/**
 * One scenario with one arm on its own three hosts: connect, let the last traffic settle, inject the fault at
 * t = 0, watch the server for a verdict until the window closes, then take everything down.
 */
export async function runOne(options: RunOptions): Promise<RunResult> {
  const { scenario, arm, settings } = options;
  const topology = new Topology(`${scenario.name.slice(0, 8)}-${arm}`);
  const captureDir = mkdtempSync(join(tmpdir(), 'lifeline-lab-'));
  try {
    scenario.setup?.(topology, settings);
    const capture = options.tcpdump ? await startCapture(topology, join(captureDir, 'server.pcap')) : null;
    const setup = armSetup(arm, options.values);
    const serverConfig: ServerAgentConfig = { host: ADDRESSES.server, port: PORT, setup, behaviour: scenario.serverBehaviour, pollMs: 100 };
    const server = new AgentProcess(topology.spawn('server', [process.execPath, AGENT, 'server', JSON.stringify(serverConfig)]));
    await server.expect('listening', Date.now() + 10_000, 'the server agent did not start');
    const clientConfig: ClientAgentConfig = {
      host: ADDRESSES.server,
      port: PORT,
      behaviour: scenario.clientBehaviour,
      ...('heartbeat' in setup.keepalive && { heartbeatInterval: setup.keepalive.heartbeat.interval }),
    };
    const client = new AgentProcess(topology.spawn('client', [process.execPath, AGENT, 'client', JSON.stringify(clientConfig)]));
    const accepted = await server.expect('accepted', Date.now() + 10_000, 'the server accepted no connection');
    await client.expect('connected', Date.now() + 10_000, 'the client did not connect');
    client.send('send hello');
    await server.expect('data', Date.now() + 5000, 'the server received nothing');
    // Let the delayed ACK and any streaming settle into a steady state before the fault.
    await sleep(scenario.serverBehaviour === 'stream' ? 1000 : 300);

    const faultAt = Date.now();
    const windowEnd = faultAt + settings.windowMs;
    const faulting = scenario
      .fault({
        topology,
        settings,
        clientSends: (text) => client.send(`send ${text}`),
        sleep: (ms) => sleep(Math.max(0, Math.min(ms, windowEnd - Date.now()))),
      })
      .catch((error: Error) => error);
    const dead = await server.waitFor('dead', windowEnd);
    // The fault's own steps end by the window's end at the latest; one that failed makes the run meaningless.
    const faultError = await faulting;
    if (faultError instanceof Error) throw faultError;
    const establishedAtEnd = dead ? null : topology.established('server').length > 0;
    const lateData = server.events.filter((event) => event.event === 'data' && event.ts > faultAt);
    const pcap = capture ? await capture.stop() : null;

    const config = armConfig(arm, setup.description, accepted);
    const timeline = pcap
      ? await timelineFromPcapFile(pcap, { serverIp: ADDRESSES.server, faultAtMs: faultAt })
      : countersTimeline(server.events, faultAt);
    timeline.push({ t: 0, from: 'router', kind: 'fault', detail: scenario.summary });
    if (dead) timeline.push({ t: dead.ts - faultAt, from: 'server', kind: 'dead', detail: `${dead['reason']} ${dead['code'] ?? ''}`.trim() });
    timeline.sort((a, b) => a.t - b.t);
    let pcapFile: string | null = null;
    if (pcap && options.pcapDir) {
      mkdirSync(options.pcapDir, { recursive: true });
      pcapFile = join(options.pcapDir, `${scenario.name}-${arm}.pcap`);
      copyFileSync(pcap, pcapFile);
    }
    const clientDead = client.events.find((event) => event.event === 'dead' && event.ts >= faultAt);
    return judge({
      scenario,
      arm,
      config,
      settings,
      dead: dead ? { at: dead.ts - faultAt, silentMs: Number(dead['silentMs']), reason: String(dead['reason']), code: (dead['code'] as string | null) ?? null } : null,
      establishedAtEnd,
      lateDataArrived: lateData.length > 0,
      client: clientDead ? { reason: String(clientDead['reason']), code: (clientDead['code'] as string | null) ?? null, detectedMs: clientDead.ts - faultAt } : null,
      timeline,
      timelineSource: pcap ? 'tcpdump' : 'tcp-info-polling',
      pcapFile,
    });
  } finally {
    topology.remove();
    rmSync(captureDir, { recursive: true, force: true });
  }
}

function armConfig(arm: ArmName, description: string, accepted: AgentEvent): ArmConfig {
  const kernel = accepted['kernel'] as { enabled: boolean; idle: number; interval: number; count: number; userTimeout: number };
  const heartbeat = (accepted['heartbeat'] as { interval: number; timeout: number } | undefined) ?? null;
  return { arm, description, enabled: kernel.enabled, idle: kernel.idle, interval: kernel.interval, count: kernel.count, userTimeout: kernel.userTimeout, heartbeat };
}

/** Without tcpdump: the kernel's counters as the server agent polled them (TCP_INFO every 100 ms). */
function countersTimeline(events: AgentEvent[], faultAt: number): TimelineEvent[] {
  return events
    .filter((event) => event.event === 'counters')
    .map((event) => ({
      t: event.ts - faultAt,
      from: 'kernel' as const,
      kind: 'counter' as const,
      detail: `state ${event['state']}, probes ${event['probes']}, retransmits ${event['retransmits']}, unacked ${event['unacked']}${event['sendWindow'] === 0 ? ', zero window' : ''}`,
    }));
}

interface Capture {
  stop(): Promise<string>;
}

async function startCapture(topology: Topology, file: string): Promise<Capture> {
  const child = topology.spawn('server', ['tcpdump', '-i', 'eth0', '-U', '-n', '-s', '160', '-w', file, 'tcp or icmp']);
  // tcpdump says "listening on" on stderr once the capture is live; packets before that would be missed.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 3000);
    child.stderr?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGINT');
        await Promise.race([once(child, 'exit'), sleep(3000)]);
      }
      return file;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}
