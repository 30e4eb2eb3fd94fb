/**
 * Every error lifeline throws or emits is a LifelineError with a stable `code`.
 * The codes are part of the public interface and are listed in docs/errors.md.
 */

export const ErrorCodes = {
  INVALID_OPTION: 'ERR_LIFELINE_INVALID_OPTION',
  UNSUPPORTED: 'ERR_LIFELINE_UNSUPPORTED',
  SOCKET_OPTION: 'ERR_LIFELINE_SOCKET_OPTION',
  NOT_APPLIED: 'ERR_LIFELINE_NOT_APPLIED',
  NO_FILE_DESCRIPTOR: 'ERR_LIFELINE_NO_FILE_DESCRIPTOR',
  PERMISSION: 'ERR_LIFELINE_PERMISSION',
  SYSCTL: 'ERR_LIFELINE_SYSCTL',
  PROTOCOL: 'ERR_LIFELINE_PROTOCOL',
  SESSION: 'ERR_LIFELINE_SESSION',
  QUEUE: 'ERR_LIFELINE_QUEUE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class LifelineError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An option has a value that lifeline or the kernel cannot take. Nothing was applied. */
export class InvalidOptionError extends LifelineError {
  declare readonly code: typeof ErrorCodes.INVALID_OPTION;
  /** The option's name as the user wrote it, e.g. `count` or `keepalive.idle`. */
  readonly option: string;
  readonly value: unknown;
  /** What would have been accepted, in words: `an integer from 1 to 127`. */
  readonly allowed: string;

  constructor(option: string, value: unknown, allowed: string, hint?: string) {
    super(
      ErrorCodes.INVALID_OPTION,
      `invalid option ${option}: ${describeValue(value)}; allowed: ${allowed}${hint ? ` (${hint})` : ''}`,
    );
    this.option = option;
    this.value = value;
    this.allowed = allowed;
  }
}

/** This runtime or platform cannot do what was asked. Nothing was applied. */
export class UnsupportedError extends LifelineError {
  declare readonly code: typeof ErrorCodes.UNSUPPORTED;
  readonly feature: string;

  constructor(feature: string, reason: string) {
    super(ErrorCodes.UNSUPPORTED, `${feature} is not supported here: ${reason}`);
    this.feature = feature;
  }
}

/** setsockopt or getsockopt failed; `errno` is the symbolic error (EINVAL, EBADF, ...). */
export class SocketOptionError extends LifelineError {
  declare readonly code: typeof ErrorCodes.SOCKET_OPTION;
  readonly syscall: 'setsockopt' | 'getsockopt';
  readonly option: string;
  readonly errno: string;

  constructor(syscall: 'setsockopt' | 'getsockopt', option: string, errno: string, cause?: unknown) {
    super(ErrorCodes.SOCKET_OPTION, `${syscall}(${option}) failed: ${errno}`, cause === undefined ? undefined : { cause });
    this.syscall = syscall;
    this.option = option;
    this.errno = errno;
  }
}

/** The kernel holds a different value than was set; the previous values were restored. */
export class NotAppliedError extends LifelineError {
  declare readonly code: typeof ErrorCodes.NOT_APPLIED;
  readonly option: string;
  readonly requested: unknown;
  readonly actual: unknown;

  constructor(option: string, requested: unknown, actual: unknown) {
    super(
      ErrorCodes.NOT_APPLIED,
      `the kernel holds ${option} = ${describeValue(actual)} after it was set to ${describeValue(requested)}`,
    );
    this.option = option;
    this.requested = requested;
    this.actual = actual;
  }
}

/** The socket has no usable file descriptor (destroyed, not TCP, or a platform without fds). */
export class NoFileDescriptorError extends LifelineError {
  declare readonly code: typeof ErrorCodes.NO_FILE_DESCRIPTOR;

  constructor(reason: string) {
    super(ErrorCodes.NO_FILE_DESCRIPTOR, `the socket has no file descriptor: ${reason}`);
  }
}

/** The operation needs privileges this process does not have (e.g. writing sysctls). */
export class PermissionError extends LifelineError {
  declare readonly code: typeof ErrorCodes.PERMISSION;

  constructor(message: string, cause?: unknown) {
    super(ErrorCodes.PERMISSION, message, cause === undefined ? undefined : { cause });
  }
}

/** Reading or writing a sysctl failed for a reason other than permission. */
export class SysctlError extends LifelineError {
  declare readonly code: typeof ErrorCodes.SYSCTL;

  constructor(message: string, cause?: unknown) {
    super(ErrorCodes.SYSCTL, message, cause === undefined ? undefined : { cause });
  }
}

export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === undefined || value === null || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
