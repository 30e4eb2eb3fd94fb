import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type AgentEvent = Record<string, unknown> & { event: string; ts: number };

/** A lab agent's JSON lines as they arrive, with a bounded wait for the next one that matches. */
export class AgentProcess {
  readonly child: ChildProcess;
  readonly events: AgentEvent[] = [];
  readonly stderr: string[] = [];
  #wake: (() => void)[] = [];

  constructor(child: ChildProcess) {
    this.child = child;
    child.stdin?.on('error', () => {});
    if (child.stdout) {
      createInterface({ input: child.stdout }).on('line', (line) => {
        try {
          this.events.push(JSON.parse(line) as AgentEvent);
        } catch {
          this.stderr.push(line);
        }
        this.#notify();
      });
    }
    if (child.stderr) createInterface({ input: child.stderr }).on('line', (line) => this.stderr.push(line));
    child.once('exit', () => this.#notify());
  }

  #notify(): void {
    for (const wake of this.#wake.splice(0)) wake();
  }

  find(name: string): AgentEvent | undefined {
    return this.events.find((event) => event.event === name);
  }

  /** The first event called `name`, waiting at most until `deadline` (a Date.now() value). */
  async waitFor(name: string, deadline: number): Promise<AgentEvent | undefined> {
    for (;;) {
      const found = this.find(name);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.child.exitCode !== null || this.child.signalCode !== null) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Fails with what the process said when an event that must come does not. */
  async expect(name: string, deadline: number, what: string): Promise<AgentEvent> {
    const found = await this.waitFor(name, deadline);
    if (found) return found;
    throw new Error(`${what}: no '${name}' event${this.stderr.length ? `; it said: ${this.stderr.slice(-5).join(' | ')}` : ''}`);
  }

  send(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }
}
