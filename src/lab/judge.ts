import { formatDuration } from '../duration.js';
import type { Scenario, FaultSettings } from './scenarios.js';
import type { ArmConfig, ArmName, LabVerdict, RunResult, TimelineEvent } from './types.js';

/** How far from its budget a verdict may land and still count as as-configured. */
export const TOLERANCE_MS = 1000;

export interface Observation {
  scenario: Scenario;
  arm: ArmName;
  config: ArmConfig;
  settings: FaultSettings;
  /** The server's verdict: when after the fault, how long the peer had been silent, why. */
  dead: { at: number; silentMs: number; reason: string; code: string | null } | null;
  establishedAtEnd: boolean | null;
  /** Whether the client's message written after the fault reached the server (nat-expiry). */
  lateDataArrived: boolean;
  client: RunResult['client'];
  timeline: TimelineEvent[];
  timelineSource: RunResult['timelineSource'];
  pcapFile: string | null;
}

/** Turns what a run saw into a verdict against what the kernel documents for its settings. */
export function judge(observation: Observation): RunResult {
  const { scenario, config, dead, settings } = observation;
  const budgetMs = scenario.budget(config, observation.settings);
  const verdict = verdictOf(observation, budgetMs);
  return {
    scenario: scenario.name,
    arm: observation.arm,
    config,
    budgetMs,
    detectedMs: dead ? Math.round(dead.at) : null,
    silentMs: dead ? Math.round(dead.silentMs) : null,
    code: dead?.code ?? null,
    reason: dead?.reason ?? null,
    verdict,
    establishedAtEnd: observation.establishedAtEnd,
    client: observation.client,
    note: noteFor(observation, budgetMs, verdict) + clientNote(observation),
    timeline: observation.timeline,
    timelineSource: observation.timelineSource,
    pcapFile: observation.pcapFile,
    windowMs: settings.windowMs,
  };
}

function verdictOf(observation: Observation, budgetMs: number | null): LabVerdict {
  const { scenario, dead } = observation;
  if (scenario.peerAlive) {
    if (dead) return 'false-positive';
    return scenario.name === 'nat-expiry' && !observation.lateDataArrived ? 'flow-lost' : 'survived';
  }
  if (!dead) return 'not-detected';
  if (budgetMs === null) return 'early';
  if (dead.silentMs < budgetMs - TOLERANCE_MS) return 'early';
  if (dead.silentMs > budgetMs + TOLERANCE_MS) return 'late';
  return 'as-configured';
}

/** When the kernel would notice, by its own rules for the scenario, as a clause for "not detected" rows. */
export function kernelWouldNotice(budgetMs: number | null): string {
  return budgetMs === null ? 'the kernel never notices' : `the kernel would notice after ${formatDuration(budgetMs)}`;
}

function noteFor(observation: Observation, budgetMs: number | null, verdict: LabVerdict): string {
  const { dead, settings } = observation;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const budget = budgetMs === null ? 'no budget' : `budget ${seconds(budgetMs)}`;
  switch (verdict) {
    case 'as-configured':
    case 'early':
    case 'late':
      return `${dead?.reason} (${dead?.code ?? 'no error'}) ${seconds(dead?.at ?? 0)} after the fault, ${seconds(dead?.silentMs ?? 0)} after the last packet from the peer; ${budget}`;
    case 'not-detected':
      return `not detected in ${seconds(settings.windowMs)}${observation.establishedAtEnd ? ': ss still shows it ESTABLISHED' : ''}; ${kernelWouldNotice(budgetMs)}`;
    case 'false-positive':
      return `a live peer declared dead: ${dead?.reason} (${dead?.code ?? 'no error'}) ${seconds(dead?.at ?? 0)} after the fault`;
    case 'survived':
      return `the peer stayed alive and the connection lived through ${seconds(settings.windowMs)} with no false verdict`;
    case 'flow-lost':
      return "the router forgot the idle flow: the client's message was dropped and the server noticed nothing";
  }
}

function clientNote({ client }: Observation): string {
  if (!client) return '';
  return `; the client saw ${client.reason}${client.code ? ` (${client.code})` : ''} ${(client.detectedMs / 1000).toFixed(1)} s after the fault`;
}
