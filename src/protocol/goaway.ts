/**
 * GOAWAY codes: why a side is closing the connection. The numbers are on the wire and never change; a new code
 * gets a new number. docs/protocol.md has the table with what each side does on receiving each code.
 */
import { ProtocolErrorReasons, type ProtocolError } from './errors.js';

export const GoAwayCodes = {
  /** Nothing is wrong: the sender ends the session on purpose; the receiver may forget it. */
  NORMAL: 0,
  /** The receiver broke the protocol: a bad frame, a frame out of order, an ACK for data never sent. */
  PROTOCOL_ERROR: 1,
  /** The server does not speak the HELLO's version; the reason lists the versions it does. */
  UNSUPPORTED_VERSION: 2,
  /** No HELLO (server side) or no WELCOME (client side) within the handshake deadline. */
  HANDSHAKE_TIMEOUT: 3,
  /** The client pinged faster than the agreed interval too often; it must double its interval. */
  TOO_MANY_PINGS: 4,
  /** The session to resume is unknown, expired, or cannot replay from the requested point; start a new one. */
  SESSION_GONE: 5,
  /** The sender is going down (deploy, drain); reconnect, to this or another server, and resume. */
  SHUTTING_DOWN: 6,
  /** The receiver sent a frame above the sender's maxFrameSize. */
  FRAME_TOO_LARGE: 7,
  /** The sender heard nothing from the receiver for the heartbeat timeout and judged it dead. */
  HEARTBEAT_TIMEOUT: 8,
} as const;

export type GoAwayCode = (typeof GoAwayCodes)[keyof typeof GoAwayCodes];
/** The stable lower-case names, as in logs and GOAWAY reasons: `too_many_pings`. */
export type GoAwayCodeName = Lowercase<keyof typeof GoAwayCodes>;

const NAMES = new Map<number, GoAwayCodeName>(
  Object.entries(GoAwayCodes).map(([key, code]) => [code, key.toLowerCase() as GoAwayCodeName]),
);

/** `4` -> `'too_many_pings'`; undefined for a code this version does not know (treat it as protocol_error). */
export function goAwayCodeName(code: number): GoAwayCodeName | undefined {
  return NAMES.get(code);
}

/** The GOAWAY code to answer a decoding error with, before closing the connection. */
export function goAwayCodeFor(error: ProtocolError): GoAwayCode {
  switch (error.reason) {
    case ProtocolErrorReasons.FRAME_TOO_LARGE:
      return GoAwayCodes.FRAME_TOO_LARGE;
    case ProtocolErrorReasons.UNSUPPORTED_VERSION:
      return GoAwayCodes.UNSUPPORTED_VERSION;
    default:
      return GoAwayCodes.PROTOCOL_ERROR;
  }
}
