import { release } from 'node:os';
import { readSysctls } from '../system/sysctl.js';
import { DEFAULT_ARM_VALUES, type ArmValues } from './arms.js';
import { runOne, hasCommand } from './runner.js';
import { DEFAULT_FAULT_SETTINGS, SCENARIOS, scenario as scenarioNamed, type FaultSettings } from './scenarios.js';
import { ArmNames, ScenarioNames, type ArmName, type LabReport, type RunResult, type ScenarioName } from './types.js';

export interface LabOptions {
  scenarios?: ScenarioName[];
  arms?: ArmName[];
  values?: Partial<ArmValues>;
  settings?: Partial<FaultSettings>;
  /** Keep each run's capture here. */
  pcapDir?: string | null;
  /** Called as runs start and finish, for progress lines. */
  onProgress?: (progress: LabProgress) => void;
  /** Turns tcpdump off even where it is installed (the timeline then comes from TCP_INFO polling). */
  noCapture?: boolean;
}

export type LabProgress =
  | { type: 'scenario'; scenario: ScenarioName; arms: ArmName[]; index: number; total: number; summary: string }
  | { type: 'run'; result: RunResult }
  | { type: 'skipped'; scenario: ScenarioName; reason: string };

/** What the lab needs from the machine; `ip` missing is fatal, the rest only narrows what runs. */
export function labTools(): { ip: boolean; nft: boolean; tcpdump: boolean; ss: boolean } {
  return { ip: hasCommand('ip'), nft: hasCommand('nft'), tcpdump: hasCommand('tcpdump'), ss: hasCommand('ss') };
}

/**
 * Runs the scenarios one after another; within a scenario, every arm runs at the same time on its own hosts,
 * so a full run takes about one window per scenario. Must run as root (or root in a user namespace).
 */
export async function runLab(options: LabOptions = {}): Promise<LabReport> {
  const tools = labTools();
  if (!tools.ip || !tools.ss) throw new Error('the lab needs `ip` and `ss` (Debian package iproute2)');
  const values: ArmValues = { ...DEFAULT_ARM_VALUES, ...options.values };
  const sysctls = readSysctls();
  const settings: FaultSettings = { ...DEFAULT_FAULT_SETTINGS, retries2: sysctls.retries2, ...options.settings };
  const names = options.scenarios?.length ? options.scenarios : [...ScenarioNames];
  const arms = options.arms?.length ? options.arms : [...ArmNames];
  const report: LabReport = {
    runs: [],
    skipped: [],
    environment: {
      kernel: release(),
      node: process.versions.node,
      libuv: process.versions.uv ?? 'unknown',
      platform: process.platform,
      privileges: process.env['LIFELINE_LAB_USERNS'] === '1' ? 'user-namespace' : 'root',
      nft: tools.nft,
      tcpdump: tools.tcpdump && !options.noCapture,
      sysctls,
      date: new Date().toISOString(),
    },
  };
  for (const [index, name] of names.entries()) {
    const scenario = scenarioNamed(name);
    if (scenario.needsNft && !tools.nft) {
      const reason = 'needs nft (Debian package nftables)';
      report.skipped.push({ scenario: name, reason });
      options.onProgress?.({ type: 'skipped', scenario: name, reason });
      continue;
    }
    options.onProgress?.({ type: 'scenario', scenario: name, arms, index, total: names.length, summary: scenario.summary });
    const results = await Promise.all(
      arms.map((arm) =>
        runOne({ scenario, arm, values, settings, tcpdump: report.environment.tcpdump, pcapDir: options.pcapDir ?? null }).then((result) => {
          options.onProgress?.({ type: 'run', result });
          return result;
        }),
      ),
    );
    report.runs.push(...results);
  }
  return report;
}

export { SCENARIOS };
