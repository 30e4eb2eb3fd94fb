/**
 * A small reader for classic pcap files (what `tcpdump -w` writes) and a classifier that turns the packets of one
 * server's TCP connections into the lab's timeline: handshake, data, retransmissions, keepalive probes and their
 * ACKs, zero windows and their probes, FIN, RST and ICMP errors.
 *
 * It reads only what the lab needs: Ethernet, Linux cooked v1/v2 (`tcpdump -i any`) and raw IP link layers; IPv4 and
 * IPv6; TCP, ICMP and ICMPv6. pcapng is refused with a message saying how to convert it.
 */
import { readFile } from 'node:fs/promises';
import { SocketAddress, isIP } from 'node:net';
import type { TimelineEvent } from './types.js';

/** The link-layer header types (pcap's LINKTYPE_*) this reader understands. */
export const PcapLinkTypes = {
  /** Ethernet: `tcpdump -i eth0`. */
  EN10MB: 1,
  /** Bare IPv4 or IPv6 (tun devices, some VPNs). */
  RAW: 101,
  /** Linux cooked capture v1: `tcpdump -i any` before libpcap 1.10. */
  LINUX_SLL: 113,
  /** Linux cooked capture v2: `tcpdump -i any` since libpcap 1.10; records the interface index. */
  LINUX_SLL2: 276,
} as const;

export interface TcpFlags {
  fin: boolean;
  syn: boolean;
  rst: boolean;
  psh: boolean;
  ack: boolean;
  urg: boolean;
  ece: boolean;
  cwr: boolean;
}

interface PcapPacketCommon {
  /** Capture time in ms since the Unix epoch, keeping the file's micro- or nanosecond fraction. */
  timestampMs: number;
  ipVersion: 4 | 6;
  srcIp: string;
  dstIp: string;
  /** IPv4 identification: the same packet captured twice keeps it, a retransmission gets a new one. null for IPv6. */
  ipId: number | null;
  /** The capturing interface where the link layer records it (LINUX_SLL2); null otherwise. */
  interfaceIndex: number | null;
  /** The file's link type (PcapLinkTypes): the cooked ones come from `-i any`, which can see a packet twice. */
  linkType: number;
}

export interface TcpPacket extends PcapPacketCommon {
  protocol: 'tcp';
  srcPort: number;
  dstPort: number;
  flags: TcpFlags;
  /** Absolute (not relative) sequence and acknowledgment numbers, unsigned 32 bit. */
  seq: number;
  ack: number;
  /** The window field as sent, not yet multiplied by the window scale. */
  window: number;
  /** The window scale shift this SYN offers (TCP option 3); null when absent or not a SYN. */
  windowScale: number | null;
  /** TCP payload bytes, from the IP length fields (so a short snapshot length does not shrink it). */
  payloadLength: number;
}

/** The start of the packet an ICMP error is about, which the error quotes. */
export interface IcmpQuotedPacket {
  srcIp: string;
  dstIp: string;
  /** IP protocol number (6 TCP, 17 UDP, ...). */
  protocol: number;
  srcPort: number | null;
  dstPort: number | null;
}

export interface IcmpPacket extends PcapPacketCommon {
  /** ICMP for IPv4, ICMPv6 for IPv6. */
  protocol: 'icmp';
  icmpType: number;
  icmpCode: number;
  /** The type and code in words, e.g. `host unreachable`, `fragmentation needed (MTU 1400)`. */
  description: string;
  /** For errors (unreachable, time exceeded, ...): the packet that caused it; null for other messages. */
  quoted: IcmpQuotedPacket | null;
}

/** TCP and ICMP packets; everything else in a capture (ARP, UDP, ...) is left out. */
export type PcapPacket = TcpPacket | IcmpPacket;

const GLOBAL_HEADER_BYTES = 24;
const RECORD_HEADER_BYTES = 16;
const MAGIC_MICROSECONDS = 0xa1b2c3d4;
const MAGIC_NANOSECONDS = 0xa1b23c4d;
const MAGIC_PCAPNG = 0x0a0d0d0a;
/** tcpdump's largest snapshot length; a record claiming more than this (or the file's snaplen) is corrupt. */
const MAX_SNAPLEN = 262_144;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
/** 802.1Q, 802.1ad and the old QinQ tag: skipped to reach the IP header behind them. */
const ETHERTYPE_VLAN_TAGS = new Set([0x8100, 0x88a8, 0x9100]);

const IP_PROTOCOL_TCP = 6;
const IP_PROTOCOL_ICMP = 1;
const IP_PROTOCOL_ICMPV6 = 58;

interface GlobalHeader {
  littleEndian: boolean;
  nanoseconds: boolean;
  snaplen: number;
  linkType: number;
}

function readGlobalHeader(bytes: Buffer): GlobalHeader {
  if (bytes.length < GLOBAL_HEADER_BYTES) {
    throw new Error(`not a pcap file: ${bytes.length} bytes, shorter than the 24-byte pcap global header`);
  }
  const magicLittle = bytes.readUInt32LE(0);
  const magicBig = bytes.readUInt32BE(0);
  let littleEndian: boolean;
  let nanoseconds: boolean;
  if (magicLittle === MAGIC_MICROSECONDS || magicLittle === MAGIC_NANOSECONDS) {
    littleEndian = true;
    nanoseconds = magicLittle === MAGIC_NANOSECONDS;
  } else if (magicBig === MAGIC_MICROSECONDS || magicBig === MAGIC_NANOSECONDS) {
    littleEndian = false;
    nanoseconds = magicBig === MAGIC_NANOSECONDS;
  } else if (magicBig === MAGIC_PCAPNG) {
    throw new Error('this is a pcapng file; only classic pcap is read (tcpdump -w writes it; convert with `editcap -F pcap in out`)');
  } else {
    throw new Error(`not a pcap file: magic number 0x${magicBig.toString(16).padStart(8, '0')} is neither 0xa1b2c3d4 nor 0xa1b23c4d in either byte order`);
  }
  const read32 = (offset: number) => (littleEndian ? bytes.readUInt32LE(offset) : bytes.readUInt32BE(offset));
  const major = littleEndian ? bytes.readUInt16LE(4) : bytes.readUInt16BE(4);
  if (major !== 2) throw new Error(`unsupported pcap version ${major} (only version 2 exists)`);
  // The upper bits of the link type field carry FCS information, not the type.
  const linkType = read32(20) & 0xffff;
  if (!(Object.values(PcapLinkTypes) as number[]).includes(linkType)) {
    throw new Error(
      `unsupported pcap link type ${linkType}; supported: ${Object.entries(PcapLinkTypes).map(([name, value]) => `${name} (${value})`).join(', ')}`,
    );
  }
  return { littleEndian, nanoseconds, snaplen: read32(16), linkType };
}

/**
 * Reads every TCP and ICMP packet of a classic pcap file. Throws when the global header is not pcap (naming what it
 * found) or a record is impossibly large; stops quietly at a truncated last record, as a capture killed mid-write
 * leaves one, and returns what came before it.
 */
export function readPcap(bytes: Buffer): PcapPacket[] {
  const header = readGlobalHeader(bytes);
  const read32 = (offset: number) => (header.littleEndian ? bytes.readUInt32LE(offset) : bytes.readUInt32BE(offset));
  const fractionToMs = header.nanoseconds ? 1e-6 : 1e-3;
  const largestRecord = Math.max(header.snaplen, MAX_SNAPLEN);
  const packets: PcapPacket[] = [];
  let offset = GLOBAL_HEADER_BYTES;
  let recordNumber = 0;
  while (offset + RECORD_HEADER_BYTES <= bytes.length) {
    recordNumber += 1;
    const seconds = read32(offset);
    const fraction = read32(offset + 4);
    const capturedLength = read32(offset + 8);
    const originalLength = read32(offset + 12);
    if (capturedLength > largestRecord) {
      throw new Error(
        `pcap record ${recordNumber} at byte ${offset} claims ${capturedLength} captured bytes, more than the snapshot length ${largestRecord}: the file is corrupt`,
      );
    }
    const dataStart = offset + RECORD_HEADER_BYTES;
    if (capturedLength > bytes.length - dataStart) break; // truncated final record
    // subarray shares the file's memory: no copy, so no allocation sized by a length field.
    const frame = bytes.subarray(dataStart, dataStart + capturedLength);
    offset = dataStart + capturedLength;
    const packet = decodeFrame(frame, header.linkType, Math.max(originalLength, capturedLength), seconds * 1000 + fraction * fractionToMs);
    if (packet) packets.push(packet);
  }
  return packets;
}

/** Finds the IP header behind the link layer; null for anything that is not IPv4 or IPv6. */
function decodeFrame(frame: Buffer, linkType: number, originalLength: number, timestampMs: number): PcapPacket | null {
  let etherType: number;
  let ipOffset: number;
  let interfaceIndex: number | null = null;
  switch (linkType) {
    case PcapLinkTypes.EN10MB: {
      if (frame.length < 14) return null;
      etherType = frame.readUInt16BE(12);
      ipOffset = 14;
      while (ETHERTYPE_VLAN_TAGS.has(etherType) && frame.length >= ipOffset + 4) {
        etherType = frame.readUInt16BE(ipOffset + 2);
        ipOffset += 4;
      }
      break;
    }
    case PcapLinkTypes.LINUX_SLL:
      if (frame.length < 16) return null;
      etherType = frame.readUInt16BE(14);
      ipOffset = 16;
      break;
    case PcapLinkTypes.LINUX_SLL2:
      if (frame.length < 20) return null;
      etherType = frame.readUInt16BE(0);
      interfaceIndex = frame.readUInt32BE(4);
      ipOffset = 20;
      break;
    default: {
      // RAW: the IP version nibble says which.
      if (frame.length < 1) return null;
      const version = (frame[0] ?? 0) >> 4;
      etherType = version === 4 ? ETHERTYPE_IPV4 : version === 6 ? ETHERTYPE_IPV6 : 0;
      ipOffset = 0;
    }
  }
  const ip = frame.subarray(ipOffset);
  // What the IP packet measured on the wire, for when its own length field is 0 (TSO/BIG TCP, IPv6 jumbograms).
  const wireIpLength = Math.max(0, originalLength - ipOffset);
  const common = { timestampMs, interfaceIndex, linkType };
  if (etherType === ETHERTYPE_IPV4) return decodeIpv4(ip, wireIpLength, common);
  if (etherType === ETHERTYPE_IPV6) return decodeIpv6(ip, wireIpLength, common);
  return null;
}

type FrameCommon = Pick<PcapPacketCommon, 'timestampMs' | 'interfaceIndex' | 'linkType'>;

function decodeIpv4(ip: Buffer, wireIpLength: number, frame: FrameCommon): PcapPacket | null {
  if (ip.length < 20 || (ip[0] ?? 0) >> 4 !== 4) return null;
  const headerLength = ((ip[0] ?? 0) & 0x0f) * 4;
  if (headerLength < 20 || ip.length < headerLength) return null;
  const totalLength = ip.readUInt16BE(2);
  // Only the first fragment carries the TCP/ICMP header.
  if ((ip.readUInt16BE(6) & 0x1fff) !== 0) return null;
  const common = {
    ...frame,
    ipVersion: 4 as const,
    srcIp: formatIpv4(ip, 12),
    dstIp: formatIpv4(ip, 16),
    ipId: ip.readUInt16BE(4),
  };
  const transportLength = (totalLength >= headerLength ? totalLength : wireIpLength) - headerLength;
  const protocol = ip[9];
  if (protocol === IP_PROTOCOL_TCP) return decodeTcp(ip, headerLength, transportLength, common);
  if (protocol === IP_PROTOCOL_ICMP) return decodeIcmp(ip, headerLength, 4, common);
  return null;
}

/** IPv6 extension headers that may sit between the fixed header and TCP/ICMPv6. */
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_AUTHENTICATION = 51;
const IPV6_DESTINATION_OPTIONS = 60;

function decodeIpv6(ip: Buffer, wireIpLength: number, frame: FrameCommon): PcapPacket | null {
  if (ip.length < 40 || (ip[0] ?? 0) >> 4 !== 6) return null;
  const payloadLength = ip.readUInt16BE(4);
  let transportLength = payloadLength > 0 ? payloadLength : wireIpLength - 40;
  let nextHeader = ip[6] ?? 0;
  let offset = 40;
  // Each extension header is at least 8 bytes, so this walk ends within the captured bytes.
  while ([IPV6_HOP_BY_HOP, IPV6_ROUTING, IPV6_FRAGMENT, IPV6_AUTHENTICATION, IPV6_DESTINATION_OPTIONS].includes(nextHeader)) {
    if (ip.length < offset + 8) return null;
    let length: number;
    if (nextHeader === IPV6_FRAGMENT) {
      if (ip.readUInt16BE(offset + 2) >> 3 !== 0) return null; // not the first fragment
      length = 8;
    } else if (nextHeader === IPV6_AUTHENTICATION) {
      length = ((ip[offset + 1] ?? 0) + 2) * 4;
    } else {
      length = ((ip[offset + 1] ?? 0) + 1) * 8;
    }
    nextHeader = ip[offset] ?? 0;
    offset += length;
    transportLength -= length;
  }
  const common = {
    ...frame,
    ipVersion: 6 as const,
    srcIp: formatIpv6(ip, 8),
    dstIp: formatIpv6(ip, 24),
    ipId: null,
  };
  if (nextHeader === IP_PROTOCOL_TCP) return decodeTcp(ip, offset, transportLength, common);
  if (nextHeader === IP_PROTOCOL_ICMPV6) return decodeIcmp(ip, offset, 6, common);
  return null;
}

type IpCommon = FrameCommon & Pick<PcapPacketCommon, 'ipVersion' | 'srcIp' | 'dstIp' | 'ipId'>;

function decodeTcp(ip: Buffer, offset: number, transportLength: number, common: IpCommon): TcpPacket | null {
  if (ip.length < offset + 20) return null;
  const headerLength = ((ip[offset + 12] ?? 0) >> 4) * 4;
  const flagBits = ip[offset + 13] ?? 0;
  const flags: TcpFlags = {
    fin: (flagBits & 0x01) !== 0,
    syn: (flagBits & 0x02) !== 0,
    rst: (flagBits & 0x04) !== 0,
    psh: (flagBits & 0x08) !== 0,
    ack: (flagBits & 0x10) !== 0,
    urg: (flagBits & 0x20) !== 0,
    ece: (flagBits & 0x40) !== 0,
    cwr: (flagBits & 0x80) !== 0,
  };
  return {
    ...common,
    protocol: 'tcp',
    srcPort: ip.readUInt16BE(offset),
    dstPort: ip.readUInt16BE(offset + 2),
    flags,
    seq: ip.readUInt32BE(offset + 4),
    ack: ip.readUInt32BE(offset + 8),
    window: ip.readUInt16BE(offset + 14),
    windowScale: flags.syn ? findWindowScale(ip, offset + 20, Math.min(ip.length, offset + headerLength)) : null,
    payloadLength: Math.max(0, transportLength - Math.max(headerLength, 20)),
  };
}

/** The window scale option (kind 3) among a SYN's TCP options, within what was captured. */
function findWindowScale(ip: Buffer, start: number, end: number): number | null {
  let offset = start;
  while (offset < end) {
    const kind = ip[offset] ?? 0;
    if (kind === 0) return null; // end of options
    if (kind === 1) {
      offset += 1; // no-op padding
      continue;
    }
    const length = ip[offset + 1] ?? 0;
    if (length < 2) return null; // malformed: would loop forever
    if (kind === 3 && length === 3 && offset + 2 < end) return Math.min(ip[offset + 2] ?? 0, 14);
    offset += length;
  }
  return null;
}

function decodeIcmp(ip: Buffer, offset: number, version: 4 | 6, common: IpCommon): IcmpPacket | null {
  if (ip.length < offset + 4) return null;
  const icmpType = ip[offset] ?? 0;
  const icmpCode = ip[offset + 1] ?? 0;
  const isError = version === 4 ? [3, 4, 5, 11, 12].includes(icmpType) : icmpType >= 1 && icmpType <= 4;
  let mtu: number | null = null;
  if (ip.length >= offset + 8) {
    if (version === 4 && icmpType === 3 && icmpCode === 4) mtu = ip.readUInt16BE(offset + 6);
    if (version === 6 && icmpType === 2) mtu = ip.readUInt32BE(offset + 4);
  }
  return {
    ...common,
    protocol: 'icmp',
    icmpType,
    icmpCode,
    description: describeIcmp(version, icmpType, icmpCode, mtu),
    quoted: isError ? decodeQuotedPacket(ip.subarray(offset + 8)) : null,
  };
}

/** ICMP errors quote the offending packet's IP header and at least 8 bytes after it: enough for the ports. */
function decodeQuotedPacket(quoted: Buffer): IcmpQuotedPacket | null {
  const version = (quoted[0] ?? 0) >> 4;
  let protocol: number;
  let transportOffset: number;
  let srcIp: string;
  let dstIp: string;
  if (version === 4 && quoted.length >= 20) {
    transportOffset = ((quoted[0] ?? 0) & 0x0f) * 4;
    protocol = quoted[9] ?? 0;
    srcIp = formatIpv4(quoted, 12);
    dstIp = formatIpv4(quoted, 16);
  } else if (version === 6 && quoted.length >= 40) {
    transportOffset = 40;
    protocol = quoted[6] ?? 0;
    srcIp = formatIpv6(quoted, 8);
    dstIp = formatIpv6(quoted, 24);
  } else {
    return null;
  }
  const hasPorts = (protocol === 6 || protocol === 17) && quoted.length >= transportOffset + 4;
  return {
    srcIp,
    dstIp,
    protocol,
    srcPort: hasPorts ? quoted.readUInt16BE(transportOffset) : null,
    dstPort: hasPorts ? quoted.readUInt16BE(transportOffset + 2) : null,
  };
}

const ICMPV4_UNREACHABLE_CODES: Record<number, string> = {
  0: 'network unreachable',
  1: 'host unreachable',
  2: 'protocol unreachable',
  3: 'port unreachable',
  4: 'fragmentation needed',
  5: 'source route failed',
  6: 'destination network unknown',
  7: 'destination host unknown',
  8: 'source host isolated',
  9: 'network administratively prohibited',
  10: 'host administratively prohibited',
  11: 'network unreachable for TOS',
  12: 'host unreachable for TOS',
  13: 'communication administratively prohibited',
  14: 'host precedence violation',
  15: 'precedence cutoff in effect',
};

const ICMPV6_UNREACHABLE_CODES: Record<number, string> = {
  0: 'no route to destination',
  1: 'communication administratively prohibited',
  2: 'beyond scope of source address',
  3: 'address unreachable',
  4: 'port unreachable',
  5: 'source address failed ingress/egress policy',
  6: 'reject route to destination',
};

/** ICMP type and code in words, as the lab's timeline shows them. */
export function describeIcmp(version: 4 | 6, type: number, code: number, mtu: number | null = null): string {
  const withMtu = (text: string) => (mtu === null ? text : `${text} (MTU ${mtu})`);
  if (version === 4) {
    switch (type) {
      case 0: return 'echo reply';
      case 3: {
        const text = ICMPV4_UNREACHABLE_CODES[code] ?? `destination unreachable (code ${code})`;
        return code === 4 ? withMtu(text) : text;
      }
      case 4: return 'source quench';
      case 5: return 'redirect';
      case 8: return 'echo request';
      case 11: return code === 1 ? 'fragment reassembly time exceeded' : 'TTL exceeded in transit';
      case 12: return 'parameter problem';
      default: return `ICMP type ${type} code ${code}`;
    }
  }
  switch (type) {
    case 1: return ICMPV6_UNREACHABLE_CODES[code] ?? `destination unreachable (code ${code})`;
    case 2: return withMtu('packet too big');
    case 3: return code === 1 ? 'fragment reassembly time exceeded' : 'hop limit exceeded in transit';
    case 4: return 'parameter problem';
    case 128: return 'echo request';
    case 129: return 'echo reply';
    default: return `ICMPv6 type ${type} code ${code}`;
  }
}

function formatIpv4(bytes: Buffer, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run of two or more zero groups as `::`. */
function formatIpv6(bytes: Buffer, offset: number): string {
  const groups: number[] = [];
  for (let index = 0; index < 8; index += 1) groups.push(bytes.readUInt16BE(offset + index * 2));
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; start += 1) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length += 1;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** The address as the reader prints it: IPv6 canonical, IPv4-mapped IPv6 (a dual-stack socket's view) as IPv4. */
export function normalizeIp(address: string): string {
  const text = address.trim().replace(/%.*$/, '');
  const family = isIP(text);
  if (family === 4) return text;
  if (family !== 6) throw new Error(`${JSON.stringify(address)} is not an IP address`);
  const canonical = new SocketAddress({ address: text, family: 'ipv6' }).address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(canonical);
  return mapped?.[1] ?? canonical;
}

export interface TimelineOptions {
  /** The server's address; in TCP packets every other address is the client side. */
  serverIp: string;
  /** When the fault was injected, ms since the Unix epoch; event times are relative to it. */
  faultAtMs: number;
  /** The server's port. Needed only when both ends share one address (loopback); otherwise found from the SYN or guessed as the lower port. */
  serverPort?: number;
}

/** Plain data and ACKs within this long of the first one of a run are folded into one event. */
const COLLAPSE_WINDOW_MS = 200;
/** Two identical packets this close together are one packet captured on two interfaces (`-i any` with a bridge). */
const DUPLICATE_WINDOW_MS = 1;
/** How far ahead to look for the other side's answer when a side's sequence space is not known yet. */
const LOOKAHEAD_PACKETS = 1000;

type Side = 'server' | 'client';

/** Probes one side sent with nothing from the other side in between. */
interface ProbeSeries {
  kind: 'keepalive-probe' | 'zero-window-probe';
  /** `number`: the probe's place in its zero-window episode (zero-window probes are numbered per episode). */
  probes: { event: TimelineEvent; relativeSeq: number; number: number }[];
}

interface Aggregate {
  event: TimelineEvent;
  startMs: number;
  beforeFault: boolean;
  count: number;
  bytes: number;
  firstSeq: number;
  endSeq: number;
}

/** What one side of a connection has sent, as far as the capture shows it. */
interface SideState {
  /** Sequence numbers in details are relative to this (the ISN when the SYN was captured, as Wireshark shows them). */
  base: number | null;
  isn: number | null;
  /** One past the highest sequence number sent (SYN and FIN count one each); null until known. */
  nextSeq: number | null;
  /** The highest sequence number the other side has acknowledged. */
  acked: number | null;
  /** The window field this side last advertised (unscaled); null until seen. */
  window: number | null;
  /** The window scale this side offered in its SYN; it applies only when both SYNs offered one. */
  offeredScale: number | null;
  retransmissionsBySeq: Map<number, number>;
  synRetransmissions: number;
  finRetransmissions: number;
  /** Probes this side sent that the other side has not answered yet. */
  openProbes: ProbeSeries | null;
  /**
   * Zero-window probes since the other side's window closed. They are numbered per episode rather than per
   * unanswered series because a live peer answers each one (window still 0) and the episode is the story.
   */
  zeroWindowProbes: number;
  dataRun: Aggregate | null;
  ackRun: Aggregate | null;
}

interface ConnectionState {
  /** Client address and port, to tell connections apart in details when a capture holds several. */
  label: string;
  server: SideState;
  client: SideState;
}

function newSide(): SideState {
  return {
    base: null,
    isn: null,
    nextSeq: null,
    acked: null,
    window: null,
    offeredScale: null,
    retransmissionsBySeq: new Map(),
    synRetransmissions: 0,
    finRetransmissions: 0,
    openProbes: null,
    zeroWindowProbes: 0,
    dataRun: null,
    ackRun: null,
  };
}

/** TCP sequence arithmetic modulo 2^32. */
const seqAdd = (seq: number, delta: number) => (seq + delta) >>> 0;
const seqBefore = (a: number, b: number) => ((a - b) | 0) < 0;
const seqMax = (a: number | null, b: number) => (a === null || seqBefore(a, b) ? b : a);

/** ms to 0.1 ms; never -0, which would print and compare oddly. */
const roundToTenth = (ms: number) => Math.round(ms * 10) / 10 || 0;

function formatBytes(bytes: number): string {
  const trim = (value: number) => value.toFixed(1).replace(/\.0$/, '');
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${trim(bytes / 1024)} KiB`;
  return `${trim(bytes / (1024 * 1024))} MiB`;
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

/** Which end of a TCP packet is the server, and the key of its connection; null when the server is neither end. */
interface Endpoints {
  key: string;
  sender: Side;
  clientIp: string;
  clientPort: number;
}

/**
 * Classifies the packets of the server's TCP connections (and ICMP about them) into timeline events, in time order.
 * Follows each connection's sequence space per direction: a zero- or one-byte segment one below the sender's next
 * sequence number is a keepalive probe (Linux sends `snd_nxt - 1` with no payload), or a zero-window probe while the
 * other side advertises window 0; payload below the next sequence number is a retransmission; the other side's
 * next pure ACK after a probe answers it. Plain data and ACKs are folded into one event per 200 ms per direction,
 * never across the fault. ICMP from an address that is neither the server nor a TCP peer comes `from: 'router'`.
 */
export function timelineFromPackets(packets: PcapPacket[], options: TimelineOptions): TimelineEvent[] {
  const serverIp = normalizeIp(options.serverIp);
  const { faultAtMs } = options;
  // pcap from `-i any` interleaves interfaces and can be a little out of order; sort is stable for ties.
  const sorted = packets.map((packet, index) => ({ packet, index })).sort((a, b) => a.packet.timestampMs - b.packet.timestampMs || a.index - b.index).map((entry) => entry.packet);

  // Loopback connections have one address for both ends: the server's port decides, learned from the SYN.
  const loopbackServerPorts = new Map<string, number>();
  const endpointsOf = (packet: TcpPacket): Endpoints | null => {
    const fromServer = packet.srcIp === serverIp;
    const toServer = packet.dstIp === serverIp;
    if (!fromServer && !toServer) return null;
    let sender: Side;
    if (fromServer && toServer) {
      const pairKey = [packet.srcPort, packet.dstPort].sort((a, b) => a - b).join('-');
      let serverPort = options.serverPort ?? loopbackServerPorts.get(pairKey);
      if (serverPort === undefined || (serverPort !== packet.srcPort && serverPort !== packet.dstPort)) {
        if (packet.flags.syn) serverPort = packet.flags.ack ? packet.srcPort : packet.dstPort;
        else serverPort = Math.min(packet.srcPort, packet.dstPort); // listening ports sit below the ephemeral range
        loopbackServerPorts.set(pairKey, serverPort);
      }
      sender = packet.srcPort === serverPort ? 'server' : 'client';
    } else {
      sender = fromServer ? 'server' : 'client';
    }
    const serverPort = sender === 'server' ? packet.srcPort : packet.dstPort;
    const clientIp = sender === 'server' ? packet.dstIp : packet.srcIp;
    const clientPort = sender === 'server' ? packet.dstPort : packet.srcPort;
    return { key: `${serverPort} ${clientIp} ${clientPort}`, sender, clientIp, clientPort };
  };

  // First pass: the server's TCP peers (to tell a client's ICMP from a router's) and how many connections there are.
  const peers = new Set<string>();
  const connectionKeys = new Set<string>();
  const endpoints = sorted.map((packet) => {
    if (packet.protocol !== 'tcp') return null;
    const found = endpointsOf(packet);
    if (found) {
      if (found.clientIp !== serverIp) peers.add(found.clientIp);
      connectionKeys.add(found.key);
    }
    return found;
  });
  const labelDetails = connectionKeys.size > 1;

  const events: TimelineEvent[] = [];
  const connections = new Map<string, ConnectionState>();
  const recentPackets = new Map<string, { timestampMs: number; interfaceIndex: number | null }>();

  const emit = (packet: PcapPacket, from: TimelineEvent['from'], kind: TimelineEvent['kind'], detail: string, connection?: ConnectionState) => {
    // Anything but plain data and ACKs ends the connection's runs, so a folded run never hides what came after it
    // (the ACK of a FIN stays after the FIN).
    if (connection && kind !== 'data' && kind !== 'ack') endRuns(connection);
    const event: TimelineEvent = {
      t: roundToTenth(packet.timestampMs - faultAtMs),
      from,
      kind,
      detail: labelDetails && connection ? `[${connection.label}] ${detail}` : detail,
    };
    events.push(event);
    return event;
  };
  const relabel = (event: TimelineEvent, detail: string, connection: ConnectionState) => {
    event.detail = labelDetails ? `[${connection.label}] ${detail}` : detail;
  };
  // Keepalive probes read "k of n", n being how many went out before the other side said anything: the count the
  // kernel compares with TCP_KEEPCNT. n is known only when the series ends, so their details are written then.
  const closeSeries = (side: SideState, connection: ConnectionState): ProbeSeries | null => {
    const series = side.openProbes;
    if (!series) return null;
    side.openProbes = null;
    if (series.kind === 'keepalive-probe') {
      const total = series.probes.length;
      series.probes.forEach(({ event, relativeSeq }, index) => relabel(event, `probe seq ${relativeSeq} (${index + 1} of ${total})`, connection));
    }
    return series;
  };
  const lastProbeNumber = (series: ProbeSeries) => series.probes[series.probes.length - 1]?.number ?? series.probes.length;

  for (const [index, packet] of sorted.entries()) {
    if (isDuplicateCapture(packet, recentPackets)) continue;

    if (packet.protocol === 'icmp') {
      const event = icmpEvent(packet, serverIp, peers);
      if (event) emit(packet, event.from, 'icmp', event.detail);
      continue;
    }

    const found = endpoints[index];
    if (!found) continue;
    let connection = connections.get(found.key);
    // A SYN with a new ISN on a known 4-tuple is a new connection reusing the port: start its story afresh.
    const knownIsn = connection?.[found.sender].isn ?? null;
    const freshSyn = packet.flags.syn && !packet.flags.ack && knownIsn !== null && knownIsn !== packet.seq;
    if (!connection || freshSyn) {
      if (connection) {
        // The old connection's story ends here: give its last probes their "k of n".
        closeSeries(connection.server, connection);
        closeSeries(connection.client, connection);
      }
      const label = found.clientIp.includes(':') ? `[${found.clientIp}]:${found.clientPort}` : `${found.clientIp}:${found.clientPort}`;
      connection = { label, server: newSide(), client: newSide() };
      connections.set(found.key, connection);
    }
    const sender = found.sender === 'server' ? connection.server : connection.client;
    const other = found.sender === 'server' ? connection.client : connection.server;
    const from = found.sender;
    const conn = connection;
    const { flags, seq, payloadLength } = packet;
    const relative = (value: number) => (sender.base === null ? value : (value - sender.base) >>> 0);

    if (sender.base === null && !flags.syn) sender.base = seqAdd(seq, -1);
    // If this side's sequence space is unknown (capture started mid-connection), the other side's next ACK tells it:
    // an answer acknowledging seq + 1 to an empty segment means this one was sent at next - 1, i.e. a probe.
    // (Only for plain segments: a FIN's answer acknowledges seq + 1 too, because the FIN itself counts one.)
    if (sender.nextSeq === null && !flags.syn && !flags.fin && !flags.rst && payloadLength <= 1) {
      const answer = findAnswer(sorted, endpoints, index, found.key, found.sender);
      if (answer && answer.flags.ack && answer.ack === seqAdd(seq, 1)) sender.nextSeq = seqAdd(seq, 1);
    }

    // Anything this side sends answers the other side's open probes.
    const answered = closeSeries(other, conn);
    const otherWindowZero = other.window === 0;
    const segmentEnd = seqAdd(seq, payloadLength + (flags.syn ? 1 : 0) + (flags.fin ? 1 : 0));

    let probeKind: ProbeSeries['kind'] | null = null;
    if (flags.syn) {
      if (sender.isn === seq) sender.synRetransmissions += 1;
      sender.isn = seq;
      sender.base = seq;
      sender.offeredScale = packet.windowScale;
      const name = flags.ack ? 'SYN-ACK' : 'SYN';
      emit(packet, from, 'syn', sender.synRetransmissions > 0 ? `${name} (retransmission #${sender.synRetransmissions})` : name, conn);
    } else if (flags.rst) {
      const answer = answered ? ` in answer to ${answered.kind === 'keepalive-probe' ? 'keepalive probe' : 'zero-window probe'} ${lastProbeNumber(answered)}` : '';
      emit(packet, from, 'rst', `${flags.ack ? 'RST, ACK' : 'RST'} seq ${relative(seq)}${answer}`, conn);
    } else if (flags.fin) {
      const repeated = sender.nextSeq !== null && !seqBefore(sender.nextSeq, segmentEnd);
      if (repeated) sender.finRetransmissions += 1;
      const withData = payloadLength > 0 ? ` with ${formatBytes(payloadLength)}` : '';
      emit(packet, from, 'fin', `FIN seq ${relative(seq)}${withData}${repeated ? ` (retransmission #${sender.finRetransmissions})` : ''}`, conn);
    } else {
      const next = sender.nextSeq;
      // A one-byte probe repeats the last byte sent; it is a probe only if that byte was already acknowledged,
      // otherwise it is the retransmission of a one-byte write.
      const lastByteAcked = next === null || sender.acked === null || !seqBefore(sender.acked, next);
      const probeShaped = next !== null && seq === seqAdd(next, -1) && (payloadLength === 0 || (payloadLength === 1 && lastByteAcked));
      const zeroWindowProbe =
        otherWindowZero &&
        (probeShaped ||
          (payloadLength === 0 && sender.acked !== null && seq === seqAdd(sender.acked, -1)) ||
          // BSD-style: one new byte beyond the closed window.
          (payloadLength === 1 && next !== null && seq === next));
      if (zeroWindowProbe) probeKind = 'zero-window-probe';
      else if (probeShaped) probeKind = 'keepalive-probe';

      if (probeKind) {
        if (sender.openProbes?.kind !== probeKind) {
          closeSeries(sender, conn);
          sender.openProbes = { kind: probeKind, probes: [] };
        }
        const relativeSeq = relative(seq);
        let number = sender.openProbes.probes.length + 1;
        let detail = `probe seq ${relativeSeq}`;
        if (probeKind === 'zero-window-probe') {
          sender.zeroWindowProbes += 1;
          number = sender.zeroWindowProbes;
          detail = `zero-window probe #${number}, seq ${relativeSeq}`;
        }
        sender.openProbes.probes.push({ event: emit(packet, from, probeKind, detail, conn), relativeSeq, number });
      } else if (payloadLength > 0) {
        const windowNote = packet.window === 0 ? ', advertises window 0' : '';
        if (next !== null && seqBefore(seq, next)) {
          const count = (sender.retransmissionsBySeq.get(seq) ?? 0) + 1;
          sender.retransmissionsBySeq.set(seq, count);
          emit(packet, from, 'retransmission', `retransmission #${count} of seq ${relative(seq)}:${relative(segmentEnd)}${windowNote}`, conn);
        } else {
          const run = foldIntoRun(sender.dataRun, packet, faultAtMs, payloadLength, relative(segmentEnd));
          if (run) sender.dataRun = run;
          else sender.dataRun = startRun(emit(packet, from, 'data', '', conn), packet, faultAtMs, payloadLength, relative(seq), relative(segmentEnd));
          relabel(sender.dataRun.event, describeDataRun(sender.dataRun) + windowNote, conn);
        }
      } else if (answered?.kind === 'keepalive-probe') {
        emit(packet, from, 'keepalive-ack', `ACK of probe ${answered.probes.length} (ack ${relativeTo(other, packet.ack)})`, conn);
      } else if (packet.window === 0) {
        const why = answered ? `window still 0 (answers zero-window probe #${lastProbeNumber(answered)})` : 'advertises window 0: receive buffer full';
        emit(packet, from, 'zero-window', why, conn);
      } else if (answered || sender.window === 0) {
        // The window reopening is the end of a zero-window episode: worth its own event, not part of a run.
        endRuns(conn);
        const answer = answered ? ` (answers zero-window probe #${lastProbeNumber(answered)})` : '';
        emit(packet, from, 'ack', `window open again: ${formatBytes(scaledWindow(packet.window, sender, other))}${answer}`, conn);
      } else {
        const ackNumber = relativeTo(other, packet.ack);
        const run = foldIntoRun(sender.ackRun, packet, faultAtMs, 0, ackNumber);
        if (run) sender.ackRun = run;
        else sender.ackRun = startRun(emit(packet, from, 'ack', '', conn), packet, faultAtMs, 0, ackNumber, ackNumber);
        const ackRun = sender.ackRun;
        relabel(ackRun.event, ackRun.count === 1 ? `ACK ${ackRun.endSeq}` : `${plural(ackRun.count, 'ACK')}, up to ${ackRun.endSeq}`, conn);
      }
    }
    // This side sent something other than a probe: its earlier probes were not answered and the series is over.
    if (!probeKind) closeSeries(sender, conn);

    sender.nextSeq = seqMax(sender.nextSeq, segmentEnd);
    sender.window = packet.window;
    if (packet.window !== 0) other.zeroWindowProbes = 0; // the episode is over
    if (flags.ack && !flags.rst) {
      other.acked = seqMax(other.acked, packet.ack);
      // The other side has sent at least what this side acknowledges (fills in a capture that began mid-connection).
      other.nextSeq = seqMax(other.nextSeq, packet.ack);
      if (other.base === null) other.base = seqAdd(packet.ack, -1);
    }
  }
  for (const connection of connections.values()) {
    closeSeries(connection.server, connection);
    closeSeries(connection.client, connection);
  }
  return events;
}

function endRuns(connection: ConnectionState): void {
  for (const side of [connection.server, connection.client]) {
    side.dataRun = null;
    side.ackRun = null;
  }
}

/** An acknowledgment number in the acknowledged side's relative sequence space. */
function relativeTo(side: SideState, value: number): number {
  return side.base === null ? value : (value - side.base) >>> 0;
}

/** The window in bytes: scaled only when both SYNs offered scaling (RFC 7323), which needs the handshake captured. */
function scaledWindow(window: number, sender: SideState, other: SideState): number {
  return sender.offeredScale !== null && other.offeredScale !== null ? window * 2 ** sender.offeredScale : window;
}

function startRun(event: TimelineEvent, packet: PcapPacket, faultAtMs: number, bytes: number, firstSeq: number, endSeq: number): Aggregate {
  return { event, startMs: packet.timestampMs, beforeFault: packet.timestampMs < faultAtMs, count: 1, bytes, firstSeq, endSeq };
}

/** Adds the packet to the open run if it is within the collapse window and on the same side of the fault. */
function foldIntoRun(run: Aggregate | null, packet: PcapPacket, faultAtMs: number, bytes: number, endSeq: number): Aggregate | null {
  if (!run || packet.timestampMs - run.startMs >= COLLAPSE_WINDOW_MS || run.beforeFault !== packet.timestampMs < faultAtMs) return null;
  run.count += 1;
  run.bytes += bytes;
  run.endSeq = endSeq;
  return run;
}

function describeDataRun(run: Aggregate): string {
  const size = formatBytes(run.bytes);
  const range = `seq ${run.firstSeq}:${run.endSeq}`;
  return run.count === 1 ? `${size}, ${range}` : `${plural(run.count, 'segment')}, ${size}, ${range}`;
}

/** The next packet of the same connection from the other side, within a bounded look ahead. */
function findAnswer(sorted: PcapPacket[], endpoints: (Endpoints | null)[], index: number, key: string, sender: Side): TcpPacket | null {
  const end = Math.min(sorted.length, index + 1 + LOOKAHEAD_PACKETS);
  for (let next = index + 1; next < end; next += 1) {
    const found = endpoints[next];
    const packet = sorted[next];
    if (found && found.key === key && found.sender !== sender && packet?.protocol === 'tcp') return packet;
  }
  return null;
}

/**
 * `tcpdump -i any` sees a packet once per interface it crosses (a veth and the bridge it is enslaved to): left in,
 * every segment would look retransmitted. So in a cooked (`-i any`) capture, an identical packet (over IPv4, the same
 * IP id too; a retransmission gets a new one) within 1 ms on another interface, or an unknown one (SLL v1 does not
 * say), is the same packet. A single-interface capture sees each packet once, so nothing is dropped there.
 */
function isDuplicateCapture(packet: PcapPacket, recent: Map<string, { timestampMs: number; interfaceIndex: number | null }>): boolean {
  if (packet.linkType !== PcapLinkTypes.LINUX_SLL && packet.linkType !== PcapLinkTypes.LINUX_SLL2) return false;
  for (const [fingerprint, seen] of recent) {
    if (packet.timestampMs - seen.timestampMs <= DUPLICATE_WINDOW_MS) break; // Map keeps insertion (time) order
    recent.delete(fingerprint);
  }
  const fingerprint =
    packet.protocol === 'tcp'
      ? `${packet.srcIp} ${packet.srcPort} ${packet.dstIp} ${packet.dstPort} ${packet.ipId} ${packet.seq} ${packet.ack} ${packet.window} ${packet.payloadLength} ${JSON.stringify(packet.flags)}`
      : `${packet.srcIp} ${packet.dstIp} ${packet.ipId} icmp ${packet.icmpType} ${packet.icmpCode} ${JSON.stringify(packet.quoted)}`;
  const seen = recent.get(fingerprint);
  if (seen && !(seen.interfaceIndex !== null && seen.interfaceIndex === packet.interfaceIndex)) return true;
  recent.delete(fingerprint);
  recent.set(fingerprint, { timestampMs: packet.timestampMs, interfaceIndex: packet.interfaceIndex });
  return false;
}

/** ICMPv6 neighbour discovery and multicast listener messages: IPv6's ARP, left out as ARP is. */
const ICMPV6_HOUSEKEEPING_TYPES = new Set([130, 131, 132, 133, 134, 135, 136, 137, 143]);

function icmpEvent(packet: IcmpPacket, serverIp: string, peers: Set<string>): Pick<TimelineEvent, 'from' | 'detail'> | null {
  if (packet.ipVersion === 6 && ICMPV6_HOUSEKEEPING_TYPES.has(packet.icmpType)) return null;
  const { quoted } = packet;
  const concernsServer = packet.srcIp === serverIp || packet.dstIp === serverIp || quoted?.srcIp === serverIp || quoted?.dstIp === serverIp;
  if (!concernsServer) return null;
  const from = packet.srcIp === serverIp ? 'server' : peers.has(packet.srcIp) ? 'client' : 'router';
  const endpoint = (ip: string, port: number | null) => {
    const name = ip === serverIp ? 'server' : ip;
    return port === null ? name : `${name.includes(':') ? `[${name}]` : name}:${port}`;
  };
  const sender = from === 'router' ? ` from ${packet.srcIp}` : '';
  const about = quoted ? `, about ${endpoint(quoted.srcIp, quoted.srcPort)} → ${endpoint(quoted.dstIp, quoted.dstPort)}` : ` to ${endpoint(packet.dstIp, null)}`;
  return { from, detail: `${packet.description}${sender}${about}` };
}

/** Reads a pcap file and classifies it; see readPcap and timelineFromPackets. */
export async function timelineFromPcapFile(path: string, options: TimelineOptions): Promise<TimelineEvent[]> {
  const bytes = await readFile(path);
  let packets: PcapPacket[];
  try {
    packets = readPcap(bytes);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`, { cause: error });
  }
  return timelineFromPackets(packets, options);
}
