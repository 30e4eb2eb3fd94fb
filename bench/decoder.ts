/**
 * Frame codec benchmark: how fast FrameDecoder turns socket reads into frames, and encodeFrame frames into bytes.
 * A benchmark, not a test: it checks only that every frame came out (count and payload bytes), not a speed.
 *
 * Decode: a stream of DATA frames (64 B payloads: many frames per read, decoded in place; 64 KiB payloads: every
 * frame straddles reads and is accumulated) is cut into reads of 16 KiB and of 64 KiB (Node's socket read size),
 * each its own Buffer as a socket delivers them. One pass is a fresh FrameDecoder pushed every read of about
 * 32 MiB of frames; a run repeats passes for --seconds; the figure is the median of --runs runs, after one
 * warm-up run. MB/s counts wire bytes (length prefixes and headers included), MB = 10^6 bytes.
 * Encode: encodeFrame of the same DATA frames (which copies the payload), and encodeDataHeader (the 13 bytes to
 * write in front of a payload that is then written as is).
 *
 *   npm run build && node dist/bench/decoder.js [--seconds 1] [--runs 5] [--out FILE]
 *
 * Writes bench/results/decoder.json (or --out) with the machine, the parameters and every run.
 */
import { machineInfo } from './machine.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FrameDecoder } from '../src/protocol/decoder.js';
import { encodeDataHeader, encodeFrame, type DataFrame } from '../src/protocol/frame.js';

const SCRIPT = fileURLToPath(import.meta.url);
/** dist/bench/decoder.js -> the repository root. */
const ROOT = resolve(dirname(SCRIPT), '..', '..');
const KiB = 1024;
const STREAM_BYTES = 32 * 1024 * KiB;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    runs: { type: 'string', default: '5' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results', 'decoder.json') },
  },
});
const SECONDS = Number(args.seconds);
const RUNS = Number(args.runs);
if (!(SECONDS > 0) || !Number.isInteger(RUNS) || RUNS < 1) {
  console.error('usage: node dist/bench/decoder.js [--seconds S > 0] [--runs N >= 1] [--out FILE]');
  process.exit(2);
}

interface Run {
  seconds: number;
  passes: number;
  frames: number;
  bytes: number;
  mbPerSecond: number;
  framesPerSecond: number;
}

interface Result {
  name: string;
  operation: 'decode' | 'encode';
  payloadBytes: number;
  chunkBytes: number | null;
  /** Frames and wire bytes per pass. */
  framesPerPass: number;
  bytesPerPass: number;
  median: { mbPerSecond: number; framesPerSecond: number; nsPerFrame: number };
  runs: Run[];
}

/** Repeats `pass` until `SECONDS` have gone by; `pass` returns the frames and wire bytes it handled. */
function timeRun(pass: () => { frames: number; bytes: number }): Run {
  let passes = 0;
  let frames = 0;
  let bytes = 0;
  const start = process.hrtime.bigint();
  let elapsed: number;
  do {
    const done = pass();
    frames += done.frames;
    bytes += done.bytes;
    passes++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  } while (elapsed < SECONDS);
  return { seconds: round(elapsed, 3), passes, frames, bytes, mbPerSecond: round(bytes / 1e6 / elapsed, 1), framesPerSecond: Math.round(frames / elapsed) };
}

function measure(name: string, operation: Result['operation'], payloadBytes: number, chunkBytes: number | null, pass: () => { frames: number; bytes: number }): Result {
  const probe = pass();
  timeRun(pass); // warm-up: JIT, inline caches, the heap's steady state
  const runs = Array.from({ length: RUNS }, () => timeRun(pass));
  const mbPerSecond = median(runs.map((run) => run.mbPerSecond));
  const framesPerSecond = median(runs.map((run) => run.framesPerSecond));
  const result: Result = {
    name,
    operation,
    payloadBytes,
    chunkBytes,
    framesPerPass: probe.frames,
    bytesPerPass: probe.bytes,
    median: { mbPerSecond, framesPerSecond, nsPerFrame: round(1e9 / framesPerSecond, 1) },
    runs,
  };
  console.log(
    `${name.padEnd(40)} ${String(mbPerSecond).padStart(8)} MB/s ${String(framesPerSecond).padStart(11)} frames/s ` +
      `${String(result.median.nsPerFrame).padStart(8)} ns/frame  (runs: ${runs.map((run) => run.mbPerSecond).join(', ')} MB/s)`,
  );
  return result;
}

function dataFrames(payloadBytes: number): DataFrame[] {
  const payload = Buffer.alloc(payloadBytes, 0x61);
  const count = Math.max(1, Math.floor(STREAM_BYTES / (payloadBytes + 13)));
  return Array.from({ length: count }, (_, index) => ({ type: 'data', seq: index + 1, payload }));
}

/** The stream cut into reads of `chunkBytes`, each copied into its own Buffer, as a socket hands them over. */
function reads(stream: Buffer, chunkBytes: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < stream.length; offset += chunkBytes) chunks.push(Buffer.from(stream.subarray(offset, offset + chunkBytes)));
  return chunks;
}

function decodeBenchmark(payloadBytes: number, chunkBytes: number): Result {
  const frames = dataFrames(payloadBytes);
  const stream = Buffer.concat(frames.map((frame) => encodeFrame(frame)));
  const chunks = reads(stream, chunkBytes);
  const expectedPayload = frames.length * payloadBytes;
  const pass = () => {
    const decoder = new FrameDecoder();
    let count = 0;
    let payload = 0;
    for (const chunk of chunks) {
      for (const frame of decoder.push(chunk)) {
        count++;
        if (frame.type === 'data') payload += frame.payload.length;
      }
    }
    decoder.end();
    // Checked on every pass so the work cannot be skipped, and a broken decoder cannot post a good figure.
    if (count !== frames.length || payload !== expectedPayload) throw new Error(`decoded ${count} frames / ${payload} bytes, expected ${frames.length} / ${expectedPayload}`);
    return { frames: count, bytes: stream.length };
  };
  return measure(`decode DATA ${size(payloadBytes)}, ${size(chunkBytes)} reads`, 'decode', payloadBytes, chunkBytes, pass);
}

function encodeBenchmark(payloadBytes: number): Result {
  const frames = dataFrames(payloadBytes);
  const pass = () => {
    let bytes = 0;
    for (const frame of frames) bytes += encodeFrame(frame).length;
    return { frames: frames.length, bytes };
  };
  return measure(`encode DATA ${size(payloadBytes)} (encodeFrame)`, 'encode', payloadBytes, null, pass);
}

/** The header alone: the payload is then written as it is, so only the 13 header bytes count as encoded. */
function encodeHeaderBenchmark(payloadBytes: number): Result {
  const frames = dataFrames(payloadBytes);
  const pass = () => {
    let bytes = 0;
    for (const frame of frames) bytes += encodeDataHeader(frame.seq, frame.payload.length).length;
    return { frames: frames.length, bytes };
  };
  return measure(`encode DATA ${size(payloadBytes)} header only (encodeDataHeader)`, 'encode', payloadBytes, null, pass);
}

function size(bytes: number): string {
  return bytes >= KiB ? `${bytes / KiB} KiB` : `${bytes} B`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : round(((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2, 1);
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function machine() {
  return machineInfo(ROOT, 'src/protocol');
}

const results: Result[] = [];
console.log(`frame codec: median of ${RUNS} runs of ${SECONDS} s each, ${STREAM_BYTES / KiB / KiB} MiB of frames per pass`);
for (const payloadBytes of [64, 64 * KiB]) {
  for (const chunkBytes of [16 * KiB, 64 * KiB]) results.push(decodeBenchmark(payloadBytes, chunkBytes));
}
for (const payloadBytes of [64, 64 * KiB]) results.push(encodeBenchmark(payloadBytes));
results.push(encodeHeaderBenchmark(64 * KiB));

const report = {
  benchmark: 'decoder',
  description: 'FrameDecoder throughput on DATA frames cut into socket-sized reads, and encodeFrame / encodeDataHeader throughput',
  command: 'node dist/bench/decoder.js',
  machine: machine(),
  parameters: { secondsPerRun: SECONDS, runs: RUNS, streamBytesPerPass: STREAM_BYTES, maxFrameSize: new FrameDecoder().maxFrameSize },
  results,
};
mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${relative(process.cwd(), args.out) || args.out}`);
