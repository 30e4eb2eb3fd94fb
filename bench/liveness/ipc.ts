import type { ChildProcess } from 'node:child_process';

/** Orchestrator -> worker: a command with an id; the worker answers { id, ok, value } or { id, ok: false, error }. */
export interface Request {
  id: number;
  command: string;
  [key: string]: unknown;
}
export interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

/** Worker side: answers each request with what its handler returns (or throws). */
export function serve(handlers: Record<string, (request: Request) => unknown>): void {
  process.on('message', (request: Request) => {
    const handler = handlers[request.command];
    void (async () => {
      try {
        if (!handler) throw new Error(`unknown command ${request.command}`);
        const value = await handler(request);
        process.send!({ id: request.id, ok: true, value } satisfies Reply);
      } catch (error) {
        process.send!({ id: request.id, ok: false, error: (error as Error).stack ?? String(error) } satisfies Reply);
      }
    })();
  });
  // The orchestrator's death ends the worker (no orphans holding 20 000 sockets).
  process.on('disconnect', () => process.exit(0));
}

/** Orchestrator side: one pending promise per request id. */
export class WorkerChannel {
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  constructor(readonly name: string, readonly child: ChildProcess) {
    child.on('message', (reply: Reply) => {
      const pending = this.#pending.get(reply.id);
      if (!pending) return;
      this.#pending.delete(reply.id);
      if (reply.ok) pending.resolve(reply.value);
      else pending.reject(new Error(`${name}: ${reply.error}`));
    });
    child.on('exit', (code, signal) => {
      for (const pending of this.#pending.values()) pending.reject(new Error(`${name} exited (${code ?? signal})`));
      this.#pending.clear();
    });
  }

  request<T>(command: string, fields: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name}: ${command} took over ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (value) => (clearTimeout(timer), resolve(value as T)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      this.child.send({ id, command, ...fields } satisfies Request);
    });
  }
}
