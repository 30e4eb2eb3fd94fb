/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: every line must be a
 * comment, a blank line or a sample; every sample must belong to a family declared with # TYPE before it;
 * histograms must have cumulative buckets ending in +Inf equal to _count. Throws on the first violation.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
  /** The value of one sample; labels must match exactly. Undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const VALUE = '(?:[+-]?(?:\\d+\\.?\\d*(?:[eE][+-]?\\d+)?|\\.\\d+(?:[eE][+-]?\\d+)?)|[+-]Inf|NaN)';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? (${VALUE})(?: -?\\d+)?$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const HELP = new RegExp(`^# HELP (${NAME}) .*$`);

function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  for (const match of text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels[match[1] as string] = (match[2] as string).replace(/\\(.)/g, (_, char: string) => (char === 'n' ? '\n' : char));
  }
  return labels;
}

function family(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : undefined;
    if (base !== undefined && (types.get(base) === 'histogram' || types.get(base) === 'summary')) return base;
  }
  return undefined;
}

const sameLabels = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([key, value]) => b[key] === value);

export function parsePrometheusText(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  text.split('\n').forEach((line, index) => {
    if (line === '') return;
    const type = TYPE.exec(line);
    if (type) {
      if (types.has(type[1] as string)) throw new Error(`line ${index + 1}: second TYPE for ${type[1]}`);
      types.set(type[1] as string, type[2] as string);
      return;
    }
    if (HELP.test(line)) return;
    if (line.startsWith('#')) throw new Error(`line ${index + 1}: malformed comment: ${line}`);
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`line ${index + 1}: not a sample: ${line}`);
    const name = sample[1] as string;
    if (family(name, types) === undefined) throw new Error(`line ${index + 1}: ${name} has no TYPE before it`);
    const raw = sample[3] as string;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name, labels: parseLabels(sample[2]), value });
  });
  for (const [name, kind] of types) {
    if (kind !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const sample of samples.filter((candidate) => candidate.name === `${name}_bucket`)) {
      const { le, ...rest } = sample.labels;
      if (le === undefined) throw new Error(`${name}_bucket without le`);
      const key = JSON.stringify(Object.entries(rest).sort());
      series.set(key, [...(series.get(key) ?? []), sample]);
    }
    for (const buckets of series.values()) {
      let previous = -Infinity;
      let last = 0;
      for (const bucket of buckets) {
        const le = bucket.labels['le'] === '+Inf' ? Infinity : Number(bucket.labels['le']);
        if (!(le > previous)) throw new Error(`${name}: buckets not increasing at le=${bucket.labels['le']}`);
        if (bucket.value < last) throw new Error(`${name}: bucket counts not cumulative at le=${bucket.labels['le']}`);
        previous = le;
        last = bucket.value;
      }
      if (previous !== Infinity) throw new Error(`${name}: no +Inf bucket`);
      const { le: _le, ...labels } = (buckets[0] as Sample).labels;
      const count = samples.find((sample) => sample.name === `${name}_count` && sameLabels(sample.labels, labels));
      if (count?.value !== last) throw new Error(`${name}: +Inf bucket ${last} != _count ${count?.value}`);
    }
  }
  return {
    types,
    samples,
    value: (name, labels = {}) => samples.find((sample) => sample.name === name && sameLabels(sample.labels, labels))?.value,
  };
}
