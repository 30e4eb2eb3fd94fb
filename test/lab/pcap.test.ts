import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PcapLinkTypes, readPcap, timelineFromPackets, timelineFromPcapFile, type PcapPacket, type TcpPacket } from '../../src/lab/pcap.js';
import type { TimelineEvent } from '../../src/lab/types.js';

// Synthetic captures, built byte by byte the way tcpdump writes them, so every classification rule can be pinned
// down without root, namespaces or timing luck.

const T0 = Date.UTC(2024, 0, 1); // epoch ms of the first packet
const FAULT_AT = T0 + 10_000;
const SERVER_IP = '10.0.0.1';
const CLIENT_IP = '10.0.0.2';
const ROUTER_IP = '10.0.0.254';
const SERVER_PORT = 1234;
const CLIENT_PORT = 40_312;

// ---- encoders ----

function ipv4Address(text: string): number[] {
  return text.split('.').map(Number);
}

function ipv6Address(text: string): number[] {
  const [head = '', tail = ''] = text.split('::');
  const groups = (part: string) => (part ? part.split(':').map((group) => Number.parseInt(group, 16)) : []);
  const left = groups(head);
  const right = text.includes('::') ? groups(tail) : [];
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return all.flatMap((group) => [group >> 8, group & 0xff]);
}

function checksum(bytes: Buffer): number {
  let sum = 0;
  for (let index = 0; index < bytes.length; index += 2) sum += (bytes[index]! << 8) + (bytes[index + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

interface TcpSpec {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** tcpdump's letters: S SYN, F FIN, R RST, P PSH, . ACK */
  flags: string;
  window?: number;
  payload?: number;
  /** TCP options bytes (e.g. window scale on a SYN). */
  options?: number[];
}

function tcpHeader(spec: TcpSpec): Buffer {
  const options = spec.options ?? [];
  const header = Buffer.alloc(20 + options.length + (spec.payload ?? 0));
  header.writeUInt16BE(spec.srcPort, 0);
  header.writeUInt16BE(spec.dstPort, 2);
  header.writeUInt32BE(spec.seq >>> 0, 4);
  header.writeUInt32BE(spec.ack >>> 0, 8);
  header[12] = ((20 + options.length) / 4) << 4;
  const bits: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, '.': 0x10 };
  header[13] = [...spec.flags].reduce((sum, letter) => sum | (bits[letter] ?? 0), 0);
  header.writeUInt16BE(spec.window ?? 502, 14);
  Buffer.from(options).copy(header, 20);
  return header;
}

function ipv4(src: string, dst: string, protocol: number, payload: Buffer, ipId = 0): Buffer {
  const header = Buffer.alloc(20);
  header[0] = 0x45;
  header.writeUInt16BE(20 + payload.length, 2);
  header.writeUInt16BE(ipId, 4);
  header.writeUInt16BE(0x4000, 6); // don't fragment
  header[8] = 64;
  header[9] = protocol;
  Buffer.from(ipv4Address(src)).copy(header, 12);
  Buffer.from(ipv4Address(dst)).copy(header, 16);
  header.writeUInt16BE(checksum(header), 10);
  return Buffer.concat([header, payload]);
}

function ipv6(src: string, dst: string, nextHeader: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(40);
  header[0] = 0x60;
  header.writeUInt16BE(payload.length, 4);
  header[6] = nextHeader;
  header[7] = 64;
  Buffer.from(ipv6Address(src)).copy(header, 8);
  Buffer.from(ipv6Address(dst)).copy(header, 24);
  return Buffer.concat([header, payload]);
}

function ethernet(ip: Buffer, etherType = 0x0800, vlan: number | null = null): Buffer {
  const header = Buffer.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
  const tag = vlan === null ? Buffer.alloc(0) : Buffer.from([0x81, 0x00, vlan >> 8, vlan & 0xff]);
  const type = Buffer.alloc(2);
  type.writeUInt16BE(etherType);
  const frame = Buffer.concat([header, tag, type, ip]);
  // Ethernet pads short frames to 60 bytes: the reader must trust the IP length, not the frame's.
  return frame.length < 60 ? Buffer.concat([frame, Buffer.alloc(60 - frame.length)]) : frame;
}

function linuxSll(ip: Buffer, etherType = 0x0800): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt16BE(4, 0); // sent by us
  header.writeUInt16BE(1, 2); // ARPHRD_ETHER
  header.writeUInt16BE(6, 4);
  header.writeUInt16BE(etherType, 14);
  return Buffer.concat([header, ip]);
}

function linuxSll2(ip: Buffer, interfaceIndex: number, etherType = 0x0800): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(etherType, 0);
  header.writeUInt32BE(interfaceIndex, 4);
  header.writeUInt16BE(1, 8); // ARPHRD_ETHER
  header[10] = 4; // outgoing
  header[11] = 6;
  return Buffer.concat([header, ip]);
}

interface PcapRecord {
  /** epoch ms, fractional allowed */
  t: number;
  frame: Buffer;
}

interface PcapFormat {
  linkType?: number;
  littleEndian?: boolean;
  nanoseconds?: boolean;
}

function pcapFile(records: PcapRecord[], format: PcapFormat = {}): Buffer {
  const { linkType = PcapLinkTypes.EN10MB, littleEndian = true, nanoseconds = false } = format;
  const write32 = (buffer: Buffer, value: number, offset: number) =>
    littleEndian ? buffer.writeUInt32LE(value, offset) : buffer.writeUInt32BE(value, offset);
  const write16 = (buffer: Buffer, value: number, offset: number) =>
    littleEndian ? buffer.writeUInt16LE(value, offset) : buffer.writeUInt16BE(value, offset);
  const header = Buffer.alloc(24);
  write32(header, nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  write16(header, 2, 4);
  write16(header, 4, 6);
  write32(header, 262_144, 16);
  write32(header, linkType, 20);
  const parts: Buffer[] = [header];
  for (const record of records) {
    const recordHeader = Buffer.alloc(16);
    const seconds = Math.floor(record.t / 1000);
    const fractionMs = record.t - seconds * 1000;
    write32(recordHeader, seconds, 0);
    write32(recordHeader, Math.round(fractionMs * (nanoseconds ? 1e6 : 1e3)), 4);
    write32(recordHeader, record.frame.length, 8);
    write32(recordHeader, record.frame.length, 12);
    parts.push(recordHeader, record.frame);
  }
  return Buffer.concat(parts);
}

/**
 * Writes one TCP connection the way the two kernels would number it: each side's next sequence number advances
 * with payload, SYN and FIN, and every segment acknowledges everything the other side sent. `seq` overrides the
 * sequence number (probes, retransmissions) without moving the next one back.
 */
class Conversation {
  readonly records: PcapRecord[] = [];
  private readonly next: Record<'server' | 'client', number>;
  private ipId = 1;

  constructor(
    serverIsn: number,
    clientIsn: number,
    private readonly wrap: (ip: Buffer) => Buffer = (ip) => ethernet(ip),
  ) {
    this.next = { server: serverIsn, client: clientIsn };
  }

  send(from: 'server' | 'client', t: number, flags: string, options: { payload?: number; seq?: number; window?: number; ack?: number } = {}): this {
    const to = from === 'server' ? 'client' : 'server';
    const payload = options.payload ?? 0;
    const seq = options.seq ?? this.next[from];
    const segment = tcpHeader({
      srcPort: from === 'server' ? SERVER_PORT : CLIENT_PORT,
      dstPort: from === 'server' ? CLIENT_PORT : SERVER_PORT,
      seq,
      ack: flags.includes('.') ? (options.ack ?? this.next[to]) : 0,
      flags,
      payload,
      ...(options.window === undefined ? {} : { window: options.window }),
    });
    const end = (seq + payload + (flags.includes('S') ? 1 : 0) + (flags.includes('F') ? 1 : 0)) >>> 0;
    if (((end - this.next[from]) | 0) > 0) this.next[from] = end;
    const [src, dst] = from === 'server' ? [SERVER_IP, CLIENT_IP] : [CLIENT_IP, SERVER_IP];
    this.records.push({ t, frame: this.wrap(ipv4(src, dst, 6, segment, this.ipId++)) });
    return this;
  }

  nextSeq(side: 'server' | 'client'): number {
    return this.next[side];
  }

  handshake(t: number): this {
    return this.send('client', t, 'S').send('server', t + 0.1, 'S.').send('client', t + 0.2, '.');
  }
}

function timelineOf(records: PcapRecord[], format: PcapFormat = {}, faultAtMs = FAULT_AT): TimelineEvent[] {
  return timelineFromPackets(readPcap(pcapFile(records, format)), { serverIp: SERVER_IP, faultAtMs });
}

/** `from kind` per event, the shape most assertions care about. */
const kinds = (events: TimelineEvent[]) => events.map((event) => `${event.from} ${event.kind}`);

// ---- the reader ----

describe('readPcap', () => {
  test('pcap: decodes Ethernet, IPv4 and TCP fields, trusting the IP length over Ethernet padding', () => {
    const conversation = new Conversation(5000, 1000).handshake(T0).send('client', T0 + 1, 'P.', { payload: 100 });
    const packets = readPcap(pcapFile(conversation.records));
    assert.equal(packets.length, 4);
    const [syn, , ack, data] = packets as TcpPacket[];
    assert.deepEqual(
      { protocol: syn!.protocol, srcIp: syn!.srcIp, dstIp: syn!.dstIp, srcPort: syn!.srcPort, dstPort: syn!.dstPort, seq: syn!.seq },
      { protocol: 'tcp', srcIp: CLIENT_IP, dstIp: SERVER_IP, srcPort: CLIENT_PORT, dstPort: SERVER_PORT, seq: 1000 },
    );
    assert.equal(syn!.flags.syn, true);
    assert.equal(syn!.flags.ack, false);
    assert.equal(syn!.timestampMs, T0);
    assert.equal(ack!.payloadLength, 0, 'a 54-byte ACK padded to 60 bytes carries no payload');
    assert.equal(ack!.ack, 5001);
    assert.equal(data!.payloadLength, 100);
    assert.equal(data!.flags.psh, true);
    assert.equal(data!.window, 502);
    assert.equal(data!.ipVersion, 4);
    assert.equal(data!.linkType, PcapLinkTypes.EN10MB);
  });

  test('pcap: both byte orders and the nanosecond magic give the same packets and exact timestamps', () => {
    const t = T0 + 123.456789;
    const frame = ethernet(ipv4(SERVER_IP, CLIENT_IP, 6, tcpHeader({ srcPort: 1, dstPort: 2, seq: 7, ack: 8, flags: '.' })));
    const variants: PcapFormat[] = [
      { littleEndian: true, nanoseconds: false },
      { littleEndian: false, nanoseconds: false },
      { littleEndian: true, nanoseconds: true },
      { littleEndian: false, nanoseconds: true },
    ];
    for (const format of variants) {
      const [packet] = readPcap(pcapFile([{ t, frame }], format)) as TcpPacket[];
      const expected = format.nanoseconds ? t : T0 + 123.457; // microsecond files round to the microsecond
      assert.ok(Math.abs(packet!.timestampMs - expected) < 1e-6, `${JSON.stringify(format)}: ${packet!.timestampMs} != ${expected}`);
      assert.equal(packet!.seq, 7, JSON.stringify(format));
      assert.equal(packet!.srcIp, SERVER_IP);
    }
  });

  test('pcap: an IPv6 frame, with addresses printed the RFC 5952 way', () => {
    const segment = tcpHeader({ srcPort: 443, dstPort: 50_000, seq: 1, ack: 2, flags: 'P.', payload: 10 });
    const frame = ethernet(ipv6('fd00:0:0:0:0:0:0:1', 'fd00::abcd:2', 6, segment), 0x86dd);
    const [packet] = readPcap(pcapFile([{ t: T0, frame }])) as TcpPacket[];
    assert.equal(packet!.ipVersion, 6);
    assert.equal(packet!.srcIp, 'fd00::1');
    assert.equal(packet!.dstIp, 'fd00::abcd:2');
    assert.equal(packet!.payloadLength, 10);
    assert.equal(packet!.ipId, null);
  });

  test('pcap: LINUX_SLL2 (tcpdump -i any) records the interface; SLL, RAW and VLAN-tagged Ethernet decode too', () => {
    const ip = ipv4(SERVER_IP, CLIENT_IP, 6, tcpHeader({ srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: '.' }));
    const [sll2] = readPcap(pcapFile([{ t: T0, frame: linuxSll2(ip, 7) }], { linkType: PcapLinkTypes.LINUX_SLL2 }));
    assert.equal(sll2!.interfaceIndex, 7);
    assert.equal(sll2!.srcIp, SERVER_IP);
    const [sll] = readPcap(pcapFile([{ t: T0, frame: linuxSll(ip) }], { linkType: PcapLinkTypes.LINUX_SLL }));
    assert.equal(sll!.dstIp, CLIENT_IP);
    const [raw] = readPcap(pcapFile([{ t: T0, frame: ip }], { linkType: PcapLinkTypes.RAW }));
    assert.equal((raw as TcpPacket).seq, 3);
    const [tagged] = readPcap(pcapFile([{ t: T0, frame: ethernet(ip, 0x0800, 42) }]));
    assert.equal((tagged as TcpPacket).ack, 4);
  });

  test('pcap: ICMP errors quote the packet they are about', () => {
    const quoted = ipv4(SERVER_IP, CLIENT_IP, 6, tcpHeader({ srcPort: SERVER_PORT, dstPort: CLIENT_PORT, seq: 1, ack: 1, flags: '.' }));
    const icmp = Buffer.concat([Buffer.from([3, 1, 0, 0, 0, 0, 0, 0]), quoted.subarray(0, 28)]);
    const [packet] = readPcap(pcapFile([{ t: T0, frame: ethernet(ipv4(ROUTER_IP, SERVER_IP, 1, icmp)) }]));
    assert.equal(packet!.protocol, 'icmp');
    const message = packet as Extract<PcapPacket, { protocol: 'icmp' }>;
    assert.equal(message.description, 'host unreachable');
    assert.deepEqual(message.quoted, { srcIp: SERVER_IP, dstIp: CLIENT_IP, protocol: 6, srcPort: SERVER_PORT, dstPort: CLIENT_PORT });
  });

  test('pcap: other traffic (ARP, UDP) is left out', () => {
    const arp = Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06]), Buffer.alloc(28)]);
    const udp = ethernet(ipv4(SERVER_IP, CLIENT_IP, 17, Buffer.alloc(8)));
    assert.deepEqual(readPcap(pcapFile([{ t: T0, frame: arp }, { t: T0, frame: udp }])), []);
  });

  test('pcap: a truncated final record ends the read and keeps what came before', () => {
    const conversation = new Conversation(5000, 1000).handshake(T0);
    const whole = pcapFile(conversation.records);
    assert.equal(readPcap(whole).length, 3);
    assert.equal(readPcap(whole.subarray(0, whole.length - 5)).length, 2, 'cut inside the last frame');
    const lastRecordStart = whole.length - conversation.records[2]!.frame.length - 16;
    assert.equal(readPcap(whole.subarray(0, lastRecordStart + 9)).length, 2, 'cut inside the last record header');
    assert.equal(readPcap(whole.subarray(0, 24)).length, 0, 'a header alone is an empty capture');
  });

  test('pcap: a bad global header throws a clear error', () => {
    assert.throws(() => readPcap(Buffer.from('hello')), /not a pcap file: 5 bytes, shorter than the 24-byte pcap global header/);
    assert.throws(() => readPcap(Buffer.from('GET / HTTP/1.1\r\nHost: example\r\n\r\n')), /not a pcap file: magic number 0x47455420/);
    const pcapng = Buffer.alloc(32);
    pcapng.writeUInt32BE(0x0a0d0d0a, 0);
    assert.throws(() => readPcap(pcapng), /pcapng/);
    const wrongLink = pcapFile([], { linkType: 127 });
    assert.throws(() => readPcap(wrongLink), /unsupported pcap link type 127; supported: EN10MB \(1\)/);
  });

  test('pcap: a record claiming more than any snapshot length is corrupt, not an allocation', () => {
    const file = pcapFile([{ t: T0, frame: Buffer.alloc(60) }]);
    file.writeUInt32LE(0xfffffff0, 24 + 8);
    assert.throws(() => readPcap(file), /record 1 at byte 24 claims 4294967280 captured bytes/);
  });
});

// ---- the timeline ----

describe('timelineFromPackets', () => {
  test('timeline: keepalive probes and their ACKs, then unanswered probes numbered k of n and the RST', () => {
    // Server ISN near 2^32: sequence numbers wrap during the data.
    const conversation = new Conversation(0xffffff00, 1000).handshake(T0);
    conversation.send('client', T0 + 100, 'P.', { payload: 5 }).send('server', T0 + 101, 'P.', { payload: 0x200 }).send('client', T0 + 300, '.');
    // A healthy idle period: one probe, answered.
    const probe = (t: number) => conversation.send('server', t, '.', { seq: conversation.nextSeq('server') - 1 });
    probe(T0 + 5000).send('client', T0 + 5000.2, '.');
    // The fault at +10 s; three unanswered probes, then the kernel gives up with RST.
    probe(T0 + 12_000);
    probe(T0 + 13_000);
    probe(T0 + 14_000);
    conversation.send('server', T0 + 15_000, 'R.');

    const events = timelineOf(conversation.records);
    assert.deepEqual(kinds(events), [
      'client syn', 'server syn', 'client ack',
      'client data', 'server data', 'client ack',
      'server keepalive-probe', 'client keepalive-ack',
      'server keepalive-probe', 'server keepalive-probe', 'server keepalive-probe', 'server rst',
    ]);
    assert.equal(events[1]!.detail, 'SYN-ACK');
    assert.equal(events[4]!.detail, '512 B, seq 1:513');
    assert.equal(events[6]!.detail, 'probe seq 512 (1 of 1)');
    assert.equal(events[6]!.t, -5000);
    assert.match(events[7]!.detail, /^ACK of probe 1/);
    assert.deepEqual(events.slice(8, 11).map((event) => event.detail), ['probe seq 512 (1 of 3)', 'probe seq 512 (2 of 3)', 'probe seq 512 (3 of 3)']);
    assert.deepEqual(events.slice(8).map((event) => event.t), [2000, 3000, 4000, 5000]);
  });

  test('timeline: a capture that starts with a probe still recognises it from the answer', () => {
    const conversation = new Conversation(77_000, 1000);
    conversation.send('server', T0, '.', { seq: 76_999 }).send('client', T0 + 0.3, '.');
    assert.deepEqual(kinds(timelineOf(conversation.records)), ['server keepalive-probe', 'client keepalive-ack']);

    // A FIN is answered with seq + 1 as well, and is not a repeat for it.
    const closing = new Conversation(77_000, 1000).send('server', T0, 'F.').send('client', T0 + 0.3, '.');
    assert.deepEqual(timelineOf(closing.records).map((event) => event.detail), ['FIN seq 1', 'ACK 2']);
  });

  test('timeline: payload below the next sequence number is a retransmission, counted per range', () => {
    const conversation = new Conversation(5000, 1000).handshake(T0);
    const start = conversation.nextSeq('server');
    conversation.send('server', T0 + 10_000, 'P.', { payload: 1448 });
    conversation.send('server', T0 + 10_300, 'P.', { payload: 1448, seq: start });
    conversation.send('server', T0 + 10_900, 'P.', { payload: 1448, seq: start });
    const events = timelineOf(conversation.records).slice(3);
    assert.deepEqual(kinds(events), ['server data', 'server retransmission', 'server retransmission']);
    assert.equal(events[1]!.detail, 'retransmission #1 of seq 1:1449');
    assert.equal(events[2]!.detail, 'retransmission #2 of seq 1:1449');
    assert.deepEqual(events.map((event) => event.t), [0, 300, 900]);
  });

  test('timeline: FIN from each side, and an RST in answer to a probe (the rebooted peer)', () => {
    const closing = new Conversation(5000, 1000).handshake(T0).send('client', T0 + 1, 'F.').send('server', T0 + 2, 'F.').send('client', T0 + 3, '.');
    assert.deepEqual(kinds(timelineOf(closing.records)).slice(3), ['client fin', 'server fin', 'client ack']);

    const rebooted = new Conversation(5000, 1000).handshake(T0);
    rebooted.send('server', T0 + 12_000, '.', { seq: rebooted.nextSeq('server') - 1 }).send('client', T0 + 12_000.3, 'R', { seq: rebooted.nextSeq('client') });
    const events = timelineOf(rebooted.records).slice(3);
    assert.deepEqual(kinds(events), ['server keepalive-probe', 'client rst']);
    assert.equal(events[1]!.detail, 'RST seq 1 in answer to keepalive probe 1');
  });

  test('timeline: a zero window, the probes against it, and the window opening again', () => {
    const conversation = new Conversation(5000, 1000).handshake(T0);
    conversation.send('server', T0 + 1000, 'P.', { payload: 1000 });
    conversation.send('client', T0 + 1001, '.', { window: 0 });
    const acked = conversation.nextSeq('server');
    conversation.send('server', T0 + 1300, '.', { seq: acked - 1 }).send('client', T0 + 1300.1, '.', { window: 0 });
    conversation.send('server', T0 + 1900, '.', { seq: acked - 1 }).send('client', T0 + 1900.1, '.', { window: 0 });
    conversation.send('client', T0 + 2500, '.', { window: 300 });
    const events = timelineOf(conversation.records).slice(4);
    assert.deepEqual(kinds(events), [
      'client zero-window',
      'server zero-window-probe', 'client zero-window',
      'server zero-window-probe', 'client zero-window',
      'client ack',
    ]);
    assert.equal(events[0]!.detail, 'advertises window 0: receive buffer full');
    assert.equal(events[1]!.detail, 'zero-window probe #1, seq 1000');
    assert.equal(events[3]!.detail, 'zero-window probe #2, seq 1000');
    assert.equal(events[4]!.detail, 'window still 0 (answers zero-window probe #2)');
    assert.equal(events[5]!.detail, 'window open again: 300 B');
  });

  test('timeline: ICMP host unreachable from a router address comes from the router', () => {
    const conversation = new Conversation(5000, 1000).handshake(T0);
    const quoted = ipv4(SERVER_IP, CLIENT_IP, 6, tcpHeader({ srcPort: SERVER_PORT, dstPort: CLIENT_PORT, seq: 5000, ack: 1001, flags: '.' }));
    const icmp = Buffer.concat([Buffer.from([3, 1, 0, 0, 0, 0, 0, 0]), quoted.subarray(0, 28)]);
    const records = [...conversation.records, { t: T0 + 13_000, frame: ethernet(ipv4(ROUTER_IP, SERVER_IP, 1, icmp)) }];
    const last = timelineOf(records).at(-1)!;
    assert.deepEqual(
      { t: last.t, from: last.from, kind: last.kind },
      { t: 3000, from: 'router', kind: 'icmp' },
    );
    assert.equal(last.detail, `host unreachable from ${ROUTER_IP}, about server:${SERVER_PORT} → ${CLIENT_IP}:${CLIENT_PORT}`);
  });

  test('timeline: plain data and ACKs fold into one event per 200 ms, never across the fault', () => {
    const conversation = new Conversation(5000, 1000).handshake(T0);
    // 20 segments of 4 KiB every 10 ms from 150 ms before the fault; the client ACKs twice in between.
    for (let index = 0; index < 20; index += 1) {
      conversation.send('server', FAULT_AT - 150 + index * 10, 'P.', { payload: 4096 });
      if (index === 1 || index === 5) conversation.send('client', FAULT_AT - 149 + index * 10, '.');
    }
    const events = timelineOf(conversation.records).slice(3);
    assert.deepEqual(kinds(events), ['server data', 'client ack', 'server data']);
    // 15 segments before the fault (t = -150 ... -10), 5 from t = 0 on.
    assert.equal(events[0]!.detail, '15 segments, 60 KiB, seq 1:61441');
    assert.equal(events[1]!.detail, '2 ACKs, up to 24577');
    assert.deepEqual(events.map((event) => event.t), [-150, -139, 0]);
    assert.equal(events[2]!.detail, '5 segments, 20 KiB, seq 61441:81921');
  });

  test('timeline: IPv6, with the server address given in another spelling', () => {
    const segment = (from: 'server' | 'client', seq: number, ack: number) =>
      tcpHeader({ srcPort: from === 'server' ? 443 : 50_000, dstPort: from === 'server' ? 50_000 : 443, seq, ack, flags: '.' });
    const records = [
      { t: FAULT_AT + 1000, frame: ethernet(ipv6('fd00::1', 'fd00::2', 6, segment('server', 99, 7)), 0x86dd) },
      { t: FAULT_AT + 1000.5, frame: ethernet(ipv6('fd00::2', 'fd00::1', 6, segment('client', 7, 100)), 0x86dd) },
    ];
    const events = timelineFromPackets(readPcap(pcapFile(records)), { serverIp: 'FD00:0:0::1', faultAtMs: FAULT_AT });
    assert.deepEqual(kinds(events), ['server keepalive-probe', 'client keepalive-ack']);
    assert.equal(events[1]!.t, 1000.5);
  });

  test('timeline: in a -i any capture, the same packet seen on two interfaces counts once', () => {
    const conversation = new Conversation(5000, 1000, (ip) => linuxSll2(ip, 2)).handshake(T0);
    conversation.send('server', T0 + 1000, 'P.', { payload: 100 });
    const copies = conversation.records.flatMap((record) => [record, { t: record.t + 0.02, frame: Buffer.concat([record.frame]) }]);
    // The copy is seen on the bridge (interface 3) rather than the veth (interface 2).
    for (const copy of copies.filter((_, index) => index % 2 === 1)) copy.frame.writeUInt32BE(3, 4);
    const events = timelineOf(copies, { linkType: PcapLinkTypes.LINUX_SLL2 });
    assert.deepEqual(kinds(events), ['client syn', 'server syn', 'client ack', 'server data']);
  });

  test('timeline: times are ms after the fault rounded to 0.1, never -0', () => {
    const conversation = new Conversation(5000, 1000).send('client', FAULT_AT - 0.04, 'S').send('server', FAULT_AT + 1.26, 'S.');
    const events = timelineOf(conversation.records);
    assert.ok(Object.is(events[0]!.t, 0));
    assert.equal(events[1]!.t, 1.3);
  });

  test('timeline: timelineFromPcapFile reads a file and names it in errors', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'lifeline-pcap-'));
    try {
      const path = join(directory, 'server.pcap');
      writeFileSync(path, pcapFile(new Conversation(5000, 1000).handshake(FAULT_AT).records));
      assert.deepEqual(kinds(await timelineFromPcapFile(path, { serverIp: SERVER_IP, faultAtMs: FAULT_AT })), ['client syn', 'server syn', 'client ack']);
      const garbage = join(directory, 'garbage.pcap');
      writeFileSync(garbage, 'not a capture at all, just text');
      await assert.rejects(timelineFromPcapFile(garbage, { serverIp: SERVER_IP, faultAtMs: FAULT_AT }), (error: Error) => error.message.startsWith(`${garbage}: not a pcap file`));
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
