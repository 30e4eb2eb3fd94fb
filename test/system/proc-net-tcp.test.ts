import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SocketAddress } from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  formatIPv6,
  MAX_SKIPPED_REPORTED,
  parseProcNetTcp,
  parseProcNetTcpLine,
  TCP_STATE_CODES,
  type ProcTcpSocket,
} from '../../src/system/proc-net-tcp.js';
import { repoPath } from '../helpers/paths.js';

/** A sample captured from a real kernel by test/fixtures/proc/capture.ts (see there for how each was made). */
function sample(name: string, family: 'tcp' | 'tcp6'): string {
  return readFileSync(repoPath('test', 'fixtures', 'proc', `${name}.${family}`), 'utf8');
}

function parsed(name: string): ProcTcpSocket[] {
  const v4 = parseProcNetTcp(sample(name, 'tcp'));
  const v6 = parseProcNetTcp(sample(name, 'tcp6'));
  assert.deepEqual([...v4.skipped, ...v6.skipped], [], `${name}: every captured line parses`);
  return [...v4.sockets, ...v6.sockets];
}

/** The one socket whose local and remote ports are these. */
function find(sockets: ProcTcpSocket[], local: number, remote: number, family: 4 | 6 = 4): ProcTcpSocket {
  const found = sockets.filter((socket) => socket.localPort === local && socket.remotePort === remote && socket.family === family);
  assert.equal(found.length, 1, `one socket ${local} -> ${remote} (IPv${family})`);
  return found[0] as ProcTcpSocket;
}

describe('proc-net-tcp', () => {
  test('proc-net-tcp: IPv4, IPv6-only and dual-stack listeners', () => {
    const sockets = parsed('listen');
    const v4 = find(sockets, 4401, 0);
    assert.equal(v4.localAddress, '127.0.0.1');
    assert.equal(v4.remoteAddress, '0.0.0.0');
    assert.equal(v4.state, 'LISTEN');
    assert.equal(v4.kind, 'socket');
    assert.equal(v4.timer, 'none');
    assert.equal(v4.timerMs, 0);
    assert.equal(v4.rtoMs, 1000);
    assert.equal(v4.ssthresh, null);
    assert.equal(v4.fastOpenQueueLimit, 0);
    assert.equal(v4.uid, 0);
    assert.ok(v4.inode > 0);
    assert.equal(find(sockets, 4406, 0, 6).localAddress, '::1');
    assert.equal(find(sockets, 4407, 0, 6).localAddress, '::');
    assert.equal(find(sockets, 4407, 0, 6).remoteAddress, '::');
  });

  test('proc-net-tcp: keepalive timers, in ms from USER_HZ ticks, on IPv4, IPv6 and IPv4-mapped sockets', () => {
    const sockets = parsed('keepalive');
    // 50001 set keepalive idle 30 s; the kernel printed 0xBB5 = 2997 ticks.
    const client = find(sockets, 50001, 4401);
    assert.equal(client.state, 'ESTABLISHED');
    assert.equal(client.timer, 'keepalive');
    assert.equal(client.timerCode, 2);
    assert.equal(client.timerMs, 29_970);
    assert.equal(client.probes, 0);
    assert.equal(client.cwnd, 10);
    assert.equal(client.ssthresh, null, 'initial slow start prints -1');
    const accepted = find(sockets, 4401, 50001);
    assert.equal(accepted.timer, 'none');
    assert.equal(accepted.timerMs, 0);
    const v6 = find(sockets, 50006, 4406, 6);
    assert.equal(v6.localAddress, '::1');
    assert.equal(v6.timer, 'keepalive');
    assert.equal(v6.timerMs, 19_980);
    // The IPv4 client of a dual-stack listener: its accepted socket is IPv6 with mapped addresses.
    const mapped = find(sockets, 4407, 50007, 6);
    assert.equal(mapped.localAddress, '::ffff:127.0.0.1');
    assert.equal(mapped.remoteAddress, '::ffff:127.0.0.1');
    assert.equal(mapped.timer, 'keepalive');
    assert.equal(mapped.timerMs, 39_980);
    assert.equal(find(sockets, 50007, 4407).timer, 'none');
  });

  test('proc-net-tcp: retransmit timer, retransmission count and unacknowledged bytes', () => {
    const sockets = parsed('retransmit');
    const v4 = find(sockets, 50001, 4401);
    assert.equal(v4.timer, 'retransmit');
    assert.equal(v4.timerCode, 1);
    assert.equal(v4.retransmits, 3);
    assert.equal(v4.txQueue, 1000);
    assert.equal(v4.rxQueue, 0);
    assert.equal(v4.timerMs, 1580);
    assert.equal(v4.rtoMs, 1630);
    assert.equal(v4.cwnd, 1);
    const v6 = find(sockets, 50006, 4406, 6);
    assert.equal(v6.timer, 'retransmit');
    assert.equal(v6.retransmits, 3);
    assert.equal(v6.txQueue, 2000);
  });

  test('proc-net-tcp: SYN_SENT and the request socket of SYN_RECV, both resending', () => {
    const sockets = parsed('handshake');
    const client = find(sockets, 50001, 4401);
    assert.equal(client.state, 'SYN_SENT');
    assert.equal(client.timer, 'retransmit');
    assert.equal(client.retransmits, 1);
    assert.equal(client.txQueue, 1, 'the SYN counts as one byte of sequence space');
    const request = find(sockets, 4401, 50001);
    assert.equal(request.state, 'SYN_RECV');
    assert.equal(request.kind, 'request');
    assert.equal(request.timer, 'retransmit');
    assert.equal(request.retransmits, 1);
    assert.equal(request.inode, 0);
    assert.equal(request.rtoMs, null);
    assert.equal(request.cwnd, null);
  });

  test('proc-net-tcp: TIME_WAIT mini sockets, one of substate FIN_WAIT2, and the peer left in CLOSE_WAIT', () => {
    const sockets = parsed('time-wait');
    const tw = find(sockets, 50001, 4401);
    assert.equal(tw.state, 'TIME_WAIT');
    assert.equal(tw.kind, 'time-wait');
    assert.equal(tw.timer, 'time-wait');
    assert.equal(tw.timerCode, 3);
    assert.equal(tw.timerMs, 59_930);
    assert.equal(tw.uid, null);
    assert.equal(tw.inode, 0);
    assert.equal(tw.rtoMs, null);
    const finWait2 = find(sockets, 50002, 4402);
    assert.equal(finWait2.state, 'FIN_WAIT2');
    assert.equal(finWait2.kind, 'time-wait');
    assert.equal(finWait2.timer, 'time-wait');
    const closeWait = find(sockets, 4402, 50002);
    assert.equal(closeWait.state, 'CLOSE_WAIT');
    assert.equal(closeWait.timer, 'none');
    assert.equal(closeWait.atoMs, 40);
    assert.equal(find(sockets, 50006, 4406, 6).state, 'TIME_WAIT');
  });

  test('proc-net-tcp: zero-window probe timer on the sender, unread bytes on the receiver', () => {
    const sockets = parsed('zero-window');
    for (const [family, local, remote] of [[4, 50001, 4401], [6, 50006, 4406]] as const) {
      const sender = find(sockets, local, remote, family);
      assert.equal(sender.timer, 'zero-window-probe');
      assert.equal(sender.timerCode, 4);
      assert.equal(sender.timerMs, 180);
      assert.equal(sender.txQueue, 0x3f800);
      const receiver = find(sockets, remote, local, family);
      assert.equal(receiver.rxQueue, 2048);
      assert.equal(receiver.timer, 'none');
    }
  });

  test('proc-net-tcp: keepalive probes unanswered (the timeout column is icsk_probes_out)', () => {
    const sockets = parsed('keepalive-probes');
    for (const [family, local, remote] of [[4, 50001, 4401], [6, 50006, 4406]] as const) {
      const client = find(sockets, local, remote, family);
      assert.equal(client.timer, 'keepalive');
      assert.equal(client.probes, 2);
      assert.equal(client.timerMs, 980);
      assert.equal(client.retransmits, 0);
      assert.equal(find(sockets, remote, local, family).probes, 0);
    }
  });

  test('proc-net-tcp: tcp and tcp6 concatenated parse as each alone (the family is told by address width)', () => {
    const both = parseProcNetTcp(sample('keepalive', 'tcp') + sample('keepalive', 'tcp6'));
    assert.equal(both.skippedCount, 0);
    assert.deepEqual(both.sockets, parsed('keepalive'));
    assert.deepEqual(new Set(both.sockets.map((socket) => socket.family)), new Set([4, 6]));
  });

  // Hand-made lines, for what this machine cannot show.
  test('proc-net-tcp: a big-endian machine prints addresses in network order (hand-made line)', () => {
    // What an s390x kernel prints for 127.0.0.1:8080 <- 10.0.0.2:54000; crafted, no big-endian machine here.
    const line = '   0: 7F000001:1F90 0A000002:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 20 4 30 10 -1';
    const result = parseProcNetTcpLine(line, { byteOrder: 'BE' });
    assert.ok(result.ok);
    assert.equal(result.socket.localAddress, '127.0.0.1');
    assert.equal(result.socket.remoteAddress, '10.0.0.2');
    assert.equal(result.socket.uid, 1000);
    assert.equal(result.socket.quickAcks, 15);
    assert.equal(result.socket.pingpong, false);
  });

  test('proc-net-tcp: an overdue timer as kernels before 4.9 printed it is 0 ms (hand-made line)', () => {
    // jiffies_to_clock_t of a negative delta, printed with %08lX; crafted: current kernels clamp it to 0.
    const line = '   3: 0100007F:C351 0100007F:1131 01 00000000:00000000 02:FFFFFFFFFFFFFFE2 00000000     0        4 7780216 3 0000000000000000 20 0 0 10 -1';
    const result = parseProcNetTcpLine(line);
    assert.ok(result.ok);
    assert.equal(result.socket.timerMs, 0);
    assert.equal(result.socket.probes, 4);
  });

  test('proc-net-tcp: fields a future kernel appends are ignored (hand-made line)', () => {
    const line = `${sample('keepalive', 'tcp').split('\n')[1] as string} 7 extra`;
    const result = parseProcNetTcpLine(line);
    assert.ok(result.ok);
    assert.equal(result.socket.state, 'LISTEN');
  });

  test('proc-net-tcp: USER_HZ other than 100', () => {
    const line = sample('keepalive', 'tcp').split('\n')[4] as string;
    const result = parseProcNetTcpLine(line, { userHz: 1000 });
    assert.ok(result.ok);
    assert.equal(result.socket.timerMs, 2997);
  });

  test('proc-net-tcp: garbage lines are skipped, each with its reason', () => {
    const good = sample('keepalive', 'tcp').split('\n')[1] as string;
    const cases: [string, RegExp][] = [
      ['hello world', /2 fields/],
      [good.replace(' 0A ', ' 0D '), /unknown state code 0D/],
      [good.replace('0100007F:1131', '0100007:1131'), /local address: .* not 8 \(IPv4\) or 32 \(IPv6\) hex digits/],
      [good.replace('0100007F:1131', '0100007F:11'), /local address: port/],
      [good.replace('00000000:0000', '00000000000000000000000000000000:0000'), /different families/],
      [good.replace(' 00:00000000 ', ' 07:00000000 '), /unknown timer kind 7/],
      [good.replace('00000000:00000000', 'zz:00000000'), /queues/],
      [good.replace('   0:', '   x:'), /slot/],
      [good.replace(/ 0 +0 /, ' 0 -1 '), /timeout/],
      [good.replace(/ 100 0 0 10 0\s*$/, ' 100 0 0 ten 0'), /cwnd/],
    ];
    const table = parseProcNetTcp([sample('keepalive', 'tcp').split('\n')[0], ...cases.map(([line]) => line), ''].join('\n'));
    assert.equal(table.sockets.length, 0);
    assert.equal(table.skippedCount, cases.length);
    cases.forEach(([, reason], index) => {
      const skipped = table.skipped[index];
      assert.ok(skipped);
      assert.equal(skipped.line, index + 2);
      assert.match(skipped.reason, reason, skipped.text);
    });
  });

  test('proc-net-tcp: the skipped list is bounded and long lines are cut', () => {
    const table = parseProcNetTcp(`${'x'.repeat(10_000)}\n`.repeat(MAX_SKIPPED_REPORTED + 50));
    assert.equal(table.skippedCount, MAX_SKIPPED_REPORTED + 50);
    assert.equal(table.skipped.length, MAX_SKIPPED_REPORTED);
    assert.ok((table.skipped[0]?.text.length ?? 0) < 300);
  });

  test('proc-net-tcp: property: what the kernel would print parses back to the same values', () => {
    fc.assert(
      fc.property(socketArb, fc.constantFrom<'LE' | 'BE'>('LE', 'BE'), (record, byteOrder) => {
        const result = parseProcNetTcpLine(kernelLine(record, byteOrder), { byteOrder });
        assert.ok(result.ok, result.ok ? '' : result.reason);
        const socket = result.socket;
        assert.equal(socket.family, record.family);
        assert.equal(socket.localAddress, nodeAddress(record.local, record.family));
        assert.equal(socket.remoteAddress, nodeAddress(record.remote, record.family));
        assert.equal(socket.localPort, record.localPort);
        assert.equal(socket.remotePort, record.remotePort);
        assert.equal(socket.stateCode, record.state);
        assert.equal(socket.txQueue, record.tx);
        assert.equal(socket.rxQueue, record.rx);
        assert.equal(socket.timerCode, record.timer);
        assert.equal(socket.timerMs, record.timer === 0 ? 0 : record.when * 10);
        assert.equal(socket.retransmits, record.retransmits);
        assert.equal(socket.probes, record.probes);
        assert.equal(socket.inode, record.inode);
        assert.equal(socket.rtoMs, record.rto * 10);
        assert.equal(socket.cwnd, record.cwnd);
      }),
      { numRuns: 500 },
    );
  });

  test('proc-net-tcp: property: any text parses without throwing; every line is a socket, skipped, or a header', () => {
    const lines = sample('keepalive', 'tcp').split('\n').concat(sample('keepalive', 'tcp6').split('\n'));
    const mutated = fc
      .tuple(fc.constantFrom(...lines), fc.nat(), fc.string({ maxLength: 3 }))
      .map(([line, at, insert]) => line.slice(0, at % (line.length + 1)) + insert + line.slice((at % (line.length + 1)) + 1));
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ maxLength: 200 }), mutated, fc.constantFrom(...lines)), { maxLength: 20 }), (chosen) => {
        const text = chosen.join('\n');
        const table = parseProcNetTcp(text);
        const meaningful = text.split('\n').filter((line) => line.trim() !== '' && !(line.trim().startsWith('sl ') && line.includes('local_address')));
        assert.equal(table.sockets.length + table.skippedCount, meaningful.length);
        for (const socket of table.sockets) {
          assert.ok(Number.isInteger(socket.localPort) && socket.localPort <= 0xffff);
          assert.ok(Number.isFinite(socket.timerMs) && socket.timerMs >= 0);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('proc-net-tcp: property: IPv6 text matches Node (libuv inet_ntop) for any address', () => {
    const groups = fc.array(fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });
    fc.assert(
      fc.property(groups, (words) => {
        const bytes = new Uint8Array(16);
        words.forEach((word, index) => {
          bytes[index * 2] = word >> 8;
          bytes[index * 2 + 1] = word & 0xff;
        });
        const full = words.map((word) => word.toString(16)).join(':');
        assert.equal(formatIPv6(bytes), new SocketAddress({ address: full, family: 'ipv6' }).address, full);
      }),
      { numRuns: 2000 },
    );
  });
});

interface KernelRecord {
  family: 4 | 6;
  local: number[];
  remote: number[];
  localPort: number;
  remotePort: number;
  state: number;
  tx: number;
  rx: number;
  timer: number;
  when: number;
  retransmits: number;
  uid: number;
  probes: number;
  inode: number;
  rto: number;
  cwnd: number;
}

const socketArb: fc.Arbitrary<KernelRecord> = fc.constantFrom<4 | 6>(4, 6).chain((family) =>
  fc.record({
    family: fc.constant(family),
    local: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: family === 4 ? 4 : 16, maxLength: family === 4 ? 4 : 16 }),
    remote: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: family === 4 ? 4 : 16, maxLength: family === 4 ? 4 : 16 }),
    localPort: fc.integer({ min: 0, max: 0xffff }),
    remotePort: fc.integer({ min: 0, max: 0xffff }),
    state: fc.constantFrom(...Object.keys(TCP_STATE_CODES).map(Number)),
    tx: fc.integer({ min: 0, max: 0xffffffff }),
    rx: fc.integer({ min: 0, max: 0x7fffffff }),
    timer: fc.constantFrom(0, 1, 2, 4),
    when: fc.integer({ min: 0, max: 0xffffffff }),
    retransmits: fc.integer({ min: 0, max: 255 }),
    uid: fc.integer({ min: 0, max: 0xffffffff }),
    probes: fc.integer({ min: 0, max: 255 }),
    inode: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    rto: fc.integer({ min: 0, max: 12_000 }),
    cwnd: fc.integer({ min: 0, max: 0xffffffff }),
  }),
);

const hex = (value: number, width: number) => value.toString(16).toUpperCase().padStart(width, '0');

/** What get_tcp4_sock / get_tcp6_sock print: each 32-bit word of the address as a host integer. */
function kernelAddress(bytes: number[], byteOrder: 'LE' | 'BE'): string {
  const buffer = Buffer.from(bytes);
  let text = '';
  for (let offset = 0; offset < buffer.length; offset += 4) text += hex(byteOrder === 'LE' ? buffer.readUInt32LE(offset) : buffer.readUInt32BE(offset), 8);
  return text;
}

function kernelLine(record: KernelRecord, byteOrder: 'LE' | 'BE'): string {
  return [
    `${String(7).padStart(4)}:`,
    `${kernelAddress(record.local, byteOrder)}:${hex(record.localPort, 4)}`,
    `${kernelAddress(record.remote, byteOrder)}:${hex(record.remotePort, 4)}`,
    hex(record.state, 2),
    `${hex(record.tx, 8)}:${hex(record.rx, 8)}`,
    `${hex(record.timer, 2)}:${hex(record.when, 8)}`,
    hex(record.retransmits, 8),
    String(record.uid).padStart(5),
    String(record.probes).padStart(8),
    String(record.inode),
    '2',
    '0000000000000000',
    String(record.rto),
    '4',
    '0',
    String(record.cwnd),
    '-1',
  ].join(' ');
}

/** The address as Node (libuv's inet_ntop) writes these bytes: an oracle independent of the parser. */
function nodeAddress(bytes: number[], family: 4 | 6): string {
  if (family === 4) return bytes.join('.');
  const words: string[] = [];
  for (let index = 0; index < 16; index += 2) words.push((((bytes[index] ?? 0) << 8) | (bytes[index + 1] ?? 0)).toString(16));
  return new SocketAddress({ address: words.join(':'), family: 'ipv6' }).address;
}
