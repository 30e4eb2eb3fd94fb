export {
  ErrorCodes,
  LifelineError,
  InvalidOptionError,
  UnsupportedError,
  SocketOptionError,
  NotAppliedError,
  NoFileDescriptorError,
  PermissionError,
  SysctlError,
  type ErrorCode,
} from './errors.js';
export { parseDuration, formatDuration, type Duration } from './duration.js';
export type { Capabilities, OptionCapability, KeepAliveField, SetPath, ReadPath } from './platform/types.js';
export { capabilities } from './socket/capabilities.js';
export { resolveKeepAliveOptions, type KeepAliveOptions, type KeepAliveChange } from './socket/options.js';
export { setKeepAlive, applyKeepAlive, getKeepAlive, type KeepAliveState, type KeepAliveResult } from './socket/keepalive.js';
export {
  keepAliveBudget,
  retransmissionTimeoutMs,
  LINUX_SYSTEM_DEFAULTS,
  BudgetWarningCodes,
  type KeepAliveBudget,
  type BudgetWarning,
  type BudgetWarningCode,
  type SystemTcpDefaults,
} from './socket/budget.js';
export {
  readSysctls,
  writeSysctls,
  validateSysctls,
  sysctlConfLines,
  sysctlsToDefaults,
  systemBudget,
  TCP_SYSCTLS,
  type TcpSysctls,
  type TcpSysctlName,
} from './system/sysctl.js';
