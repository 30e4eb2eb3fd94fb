import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTcpInfo, readTcpInfo } from '../../src/index.js';
import { tcpPair } from '../helpers/sockets.js';

test('tcp-info: parses the fields at their kernel offsets', () => {
  const bytes = Buffer.alloc(280);
  bytes.writeUInt8(1, 0);
  bytes.writeUInt8(4, 1);
  bytes.writeUInt8(3, 2);
  bytes.writeUInt8(2, 3);
  bytes.writeUInt8(1, 4);
  bytes.writeUInt32LE(204_000, 8);
  bytes.writeUInt32LE(7, 24);
  bytes.writeUInt32LE(11, 44);
  bytes.writeUInt32LE(5080, 52);
  bytes.writeUInt32LE(5070, 56);
  bytes.writeUInt32LE(60, 68);
  bytes.writeUInt32LE(30, 72);
  bytes.writeUInt32LE(9, 100);
  bytes.writeBigUInt64LE(123n, 120);
  bytes.writeBigUInt64LE(456n, 128);
  bytes.writeUInt32LE(32_768, 144);
  bytes.writeUInt32LE(65_535, 228);
  bytes.writeUInt16LE(5, 240);
  assert.deepEqual(parseTcpInfo(bytes), {
    state: 'ESTABLISHED', caState: 4, retransmits: 3, probes: 2, backoff: 1, rtoMs: 204, unacked: 7,
    lastDataSentMs: 11, lastDataRecvMs: 5080, lastAckRecvMs: 5070, rttUs: 60, rttVarUs: 30, totalRetrans: 9,
    bytesAcked: 123, bytesReceived: 456, notSentBytes: 32_768, sendWindow: 65_535, totalRto: 5,
  });
});

test('tcp-info: fields an older kernel did not write are null', () => {
  const info = parseTcpInfo(Buffer.alloc(104));
  assert.equal(info.sendWindow, null);
  assert.equal(info.totalRto, null);
  assert.equal(info.bytesAcked, 0);
});

test('tcp-info: reads a live loopback connection and counts its bytes', async () => {
  const pair = await tcpPair('127.0.0.1');
  try {
    pair.client.write('hello');
    await new Promise((resolve) => pair.accepted.once('data', resolve));
    const info = readTcpInfo(pair.accepted);
    assert.ok(info);
    assert.equal(info.state, 'ESTABLISHED');
    assert.equal(info.bytesReceived, 5);
    assert.equal(info.probes, 0);
  } finally {
    await pair.close();
  }
  assert.equal(readTcpInfo(pair.accepted), undefined);
});
