#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ErrorCodes, LifelineError } from '../errors.js';
import { registerClient } from './client.js';
import { registerDemo } from './demo.js';
import { registerDoctor } from './doctor.js';
import { registerInspect } from './inspect.js';
import { registerLab } from './lab.js';
import { registerRecommend } from './recommend.js';
import { registerServer } from './server.js';
import { registerSysctl } from './sysctl.js';
import { UsageError } from './usage-error.js';

const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

/** Exit codes: 0 success, 1 a runtime failure, 2 a bad command line or option value. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command('lifeline')
    .description('find dead TCP peers fast, explain why, and prove it on real kernel TCP')
    .version(version)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.split('\n')[0] + '\n') });
  registerDemo(program);
  registerServer(program);
  registerClient(program);
  registerSysctl(program);
  registerDoctor(program);
  registerInspect(program);
  registerLab(program);
  registerRecommend(program);
  for (const command of program.commands) command.exitOverride().configureOutput({ outputError: (text, write) => write(text.split('\n')[0] + '\n') });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return report(error);
  }
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its one line; help and version are not errors.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
    return EXIT_USAGE;
  }
  if (error instanceof UsageError) {
    process.stderr.write(`lifeline: ${error.message}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof LifelineError) {
    process.stderr.write(`lifeline: ${error.message} [${error.code}]\n`);
    return error.code === ErrorCodes.INVALID_OPTION ? EXIT_USAGE : EXIT_FAILURE;
  }
  const err = error as Error;
  process.stderr.write(`lifeline: ${err.message ?? String(error)}\n`);
  return EXIT_FAILURE;
}

process.exitCode = await main(process.argv);
