import { ErrorCodes, LifelineError } from '../errors.js';

/** The code every ProtocolError carries. It joins `ErrorCodes` in src/errors.ts as `PROTOCOL`. */
export const PROTOCOL_ERROR_CODE = ErrorCodes.PROTOCOL;

/**
 * Why a frame could not be decoded (the peer broke the protocol) or encoded (the caller built a frame the
 * protocol cannot carry). The values are stable: match on them, not on the message.
 */
export const ProtocolErrorReasons = {
  /** The length prefix (or, when encoding, the frame) exceeds maxFrameSize. Detected from the 4 length bytes alone. */
  FRAME_TOO_LARGE: 'frame-too-large',
  /** The type byte names no frame type of this protocol. */
  UNKNOWN_TYPE: 'unknown-type',
  /** The length does not fit the frame type: 0, a PING that is not 8 bytes, a HELLO over 1024 bytes, ... */
  BAD_LENGTH: 'bad-length',
  /** The body has the right length but a field is out of range: sequence 0, a sequence above 2^53-1, invalid UTF-8, ... */
  BAD_PAYLOAD: 'bad-payload',
  /** A WELCOME for a protocol version this implementation does not speak (a HELLO of any version decodes). */
  UNSUPPORTED_VERSION: 'unsupported-version',
  /** The stream ended in the middle of a frame (`FrameDecoder.end()`). */
  TRUNCATED: 'truncated',
  /** Encoding only: a field of the frame object is missing, of the wrong type or out of range. */
  INVALID_FRAME: 'invalid-frame',
} as const;

export type ProtocolErrorReason = (typeof ProtocolErrorReasons)[keyof typeof ProtocolErrorReasons];

/** Where a decoding error was found, as evidence for logs and GOAWAY reasons. */
export interface ProtocolErrorContext {
  /** The frame type's name (`'data'`), or null when the type byte was not read or is unknown. */
  frameType?: string | null;
  /** Byte offset in the stream where the offending frame starts (its first length byte); null when encoding. */
  streamOffset?: number | null;
}

/**
 * The peer sent bytes that are not a valid lifeline frame, or a frame given to the encoder cannot be sent.
 * After a decoding error the stream cannot be trusted past this point: answer GOAWAY (see `goAwayCodeFor`)
 * and close the connection.
 */
export class ProtocolError extends LifelineError {
  declare readonly code: typeof ErrorCodes.PROTOCOL;
  readonly reason: ProtocolErrorReason;
  readonly frameType: string | null;
  readonly streamOffset: number | null;

  constructor(reason: ProtocolErrorReason, message: string, context: ProtocolErrorContext = {}) {
    const at = context.streamOffset === undefined || context.streamOffset === null ? '' : ` (frame at byte ${context.streamOffset} of the stream)`;
    super(PROTOCOL_ERROR_CODE, `${reason}: ${message}${at}`);
    this.reason = reason;
    this.frameType = context.frameType ?? null;
    this.streamOffset = context.streamOffset ?? null;
  }
}
