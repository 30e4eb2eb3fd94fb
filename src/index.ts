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
export { systemClock, ManualClock, type Clock, type ClockTimer } from './clock.js';
export { DeathReasons, classifyDeath, type DeathReason, type DeathEvidence, type Verdict } from './liveness/verdict.js';
export { readTcpInfo, parseTcpInfo, readPendingError, type TcpInfo } from './socket/tcp-info.js';
export {
  ConnectionStates,
  WatchedConnection,
  type ConnectionState,
  type ConnectionSnapshot,
  type DeadPeer,
} from './socket/watched-connection.js';
export {
  Supervisor,
  DEFAULT_SUPERVISOR_KEEPALIVE,
  resolveSupervisorOptions,
  type SupervisorOptions,
  type SupervisorEvents,
} from './server/supervisor.js';
export { TcpClient, type TcpClientOptions, type TcpClientEvents } from './client/tcp-client.js';
export { ProtocolError, ProtocolErrorReasons, type ProtocolErrorReason } from './protocol/errors.js';
export {
  encodeFrame,
  encodeFrameInto,
  encodeDataHeader,
  encodedSize,
  maxDataPayload,
  isSupportedHello,
  PROTOCOL_VERSION,
  DEFAULT_MAX_FRAME_SIZE,
  MaxFrameSizeLimits,
  FrameTypeCodes,
  DATA_FRAME_OVERHEAD,
  type Frame,
  type FrameType,
  type HelloFrame,
  type UnsupportedHelloFrame,
  type WelcomeFrame,
  type DataFrame,
  type AckFrame,
  type PingFrame,
  type PongFrame,
  type GoAwayFrame,
  type EncodeOptions,
} from './protocol/frame.js';
export { FrameDecoder, decodeFrames, resolveFrameDecoderOptions, type FrameDecoderOptions } from './protocol/decoder.js';
export { GoAwayCodes, goAwayCodeName, goAwayCodeFor, type GoAwayCode, type GoAwayCodeName } from './protocol/goaway.js';
export {
  OutboundLog,
  InboundLog,
  SessionError,
  SessionErrorReasons,
  type SessionErrorReason,
  type PendingMessage,
  type OutboundLogLimits,
} from './protocol/session.js';
export { FramedSocket, type FramedSocketEvents } from './socket/framed-socket.js';
export {
  LifelineServer,
  DEFAULT_SERVER_HEARTBEAT,
  type LifelineServerOptions,
  type LifelineServerEvents,
  type ServerMessage,
} from './server/lifeline-server.js';
export { Client, resolveClientOptions, type ClientOptions, type ClientEvents } from './client/client.js';
export { Backoff, DEFAULT_BACKOFF, resolveBackoffOptions, isRetryable, retryVerdict, type BackoffOptions, type RetryVerdict } from './client/backoff.js';
export {
  OfflineQueue,
  QueueError,
  QueuePolicies,
  QueueErrorReasons,
  DEFAULT_OFFLINE_QUEUE,
  type OfflineQueueOptions,
  type QueuePolicy,
  type QueueErrorReason,
} from './client/queue.js';
export {
  HeartbeatEngine,
  HeartbeatStates,
  SuspicionCauses,
  type HeartbeatHandle,
  type HeartbeatState,
  type SuspicionCause,
  type SuspectPeer,
  type RecoveredPeer,
  type HeartbeatDeadPeer,
  type HeartbeatStats,
  type HeartbeatWarning,
  type HeartbeatEvents,
  type HeartbeatConnectionOptions,
} from './liveness/heartbeat.js';
export {
  resolveHeartbeatOptions,
  DEFAULT_HEARTBEAT_OPTIONS,
  DEFAULT_PHI_OPTIONS,
  type HeartbeatOptions,
  type PhiOptions,
  type ResolvedHeartbeatOptions,
  type ResolvedPhiOptions,
  type SendPingTo,
} from './liveness/heartbeat-options.js';
export { StallGuard, StallSources, type StallReport, type StallSource } from './liveness/stall-guard.js';
export { TimingWheel, type TimingWheelOptions } from './liveness/wheel.js';
export {
  LivenessMetrics,
  LiveStates,
  METRIC_NAMES,
  SILENCE_VERDICTS,
  DEFAULT_DETECTION_LATENCY_BUCKETS,
  DEFAULT_RTT_BUCKETS,
  detectionLatency,
  loadPromClient,
  resolveLivenessMetricsOptions,
  resolveMetricsOption,
  type LiveState,
  type LivenessRecorder,
  type LivenessMetricsOptions,
  type LivenessMetricsEvents,
  type DeathDetails,
  type DeathRecord,
  type MetricsRegistry,
  type PromClientModule,
} from './server/metrics.js';
export type { ConnectionStatus, ConnectionSource } from './server/connection-status.js';
export type { SupervisedConnection } from './server/supervisor.js';
export type { LifelineConnectionStatus } from './server/lifeline-server.js';
export {
  StatusPage,
  DEFAULT_STATUS_PAGE,
  resolveStatusPageOptions,
  type StatusPageOptions,
  type StatusRow,
  type StatusSnapshot,
} from './server/status-page.js';
export {
  inspectConnections,
  risksOf,
  RiskCodes,
  type InspectOptions,
  type InspectReport,
  type InspectedConnection,
  type Risk,
  type RiskCode,
} from './system/inspect.js';
export { parseProcNetTcp, type ProcTcpSocket, type ProcNetTcpTable, type TcpState, type TcpTimer } from './system/proc-net-tcp.js';
export { readSocketOwners, type SocketOwner, type SocketOwners } from './system/proc-sockets.js';
export {
  recommend,
  RecommendWarningCodes,
  type RecommendInput,
  type Recommendation,
  type RecommendWarning,
  type RecommendWarningCode,
} from './recommend/recommend.js';
export { PRESETS, PresetNames, type PresetName, type MiddleboxPreset } from './recommend/presets.js';
