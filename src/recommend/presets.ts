/**
 * Middleboxes whose idle limits people meet most, with what each does when the limit passes and where the figure
 * comes from. Every figure was read in the vendor's own documentation (or the kernel's source) as cited in
 * `source`; where only a secondary source said it, `source` says so. docs/operators.md has the same table.
 */

export const PresetNames = ['aws-nlb', 'aws-alb', 'aws-elb', 'azure-lb', 'gcp-nat', 'gcp-lb', 'k8s-conntrack', 'linux-conntrack'] as const;
export type PresetName = (typeof PresetNames)[number];

/**
 * What the middlebox does when a flow has been idle past its limit:
 * - `rst`: it forgets the flow and answers the next packet with RST (the writer gets ECONNRESET at once);
 * - `silent-drop`: it forgets the flow and drops later packets (the writer retransmits until a timeout);
 * - `close`: a proxy closes both of its connections (the application sees an orderly or reset close);
 * - `forget`: the tracking entry goes; what the next packet meets depends on the rest of the path.
 */
export type ExpiryBehaviour = 'rst' | 'silent-drop' | 'close' | 'forget';

export interface MiddleboxPreset {
  name: PresetName;
  /** What it is, in a few words. */
  title: string;
  /** The idle limit as shipped, ms. */
  idleLimitMs: number;
  /** The range the operator may configure, ms; null when fixed or when the range could not be verified. */
  configurableMs: { min: number; max: number } | null;
  atExpiry: ExpiryBehaviour;
  /** What happens at expiry, in one line. */
  expiryNote: string;
  /** Terminates TCP: keepalive and the user timeout only watch the hop to it; only heartbeats (data) see the peer. */
  proxy: boolean;
  /** Whether TCP keepalive probes (no payload) reset its idle timer. A proxy's data idle timer ignores them. */
  keepaliveRefreshes: boolean;
  /** Where each figure comes from: document title, address, and what it says. */
  source: string;
}

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;

export const PRESETS: Readonly<Record<PresetName, MiddleboxPreset>> = {
  'aws-nlb': {
    name: 'aws-nlb',
    title: 'AWS Network Load Balancer, TCP listener',
    idleLimitMs: 350 * S,
    configurableMs: { min: 60 * S, max: 6000 * S },
    atExpiry: 'rst',
    expiryNote: 'the flow is closed; a client or target that sends after it gets RST',
    proxy: false,
    keepaliveRefreshes: true,
    source:
      'AWS, "Update the TCP idle timeout for your Network Load Balancer listener" (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/update-idle-timeout.html): default 350 s for TCP flows, configurable 60-6000 s (TLS listeners fixed at 350 s). '
      + 'AWS, "Network Load Balancers", Connection idle timeout (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html#connection-idle-timeout): '
      + 'after the timeout, a client or target that sends data receives RST; clients or targets can use TCP keepalive packets to reset the idle timeout.',
  },
  'aws-alb': {
    name: 'aws-alb',
    title: 'AWS Application Load Balancer (an HTTP proxy)',
    idleLimitMs: 60 * S,
    configurableMs: null,
    atExpiry: 'close',
    expiryNote: 'the load balancer closes the idle client or target connection',
    proxy: true,
    keepaliveRefreshes: false,
    source:
      'AWS, "Edit attributes for your Application Load Balancer", Connection idle timeout (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html): '
      + 'default 60 s; send at least 1 byte of data before each idle timeout elapses; HTTP/2 PING frames do not reset it. The configurable range was not verified.',
  },
  'aws-elb': {
    name: 'aws-elb',
    title: 'AWS Classic Load Balancer (a proxy: two connections per client)',
    idleLimitMs: 60 * S,
    configurableMs: { min: 1 * S, max: 3600 * S },
    atExpiry: 'close',
    expiryNote: 'the load balancer closes the idle front-end or back-end connection',
    proxy: true,
    keepaliveRefreshes: false,
    source:
      'AWS, "Configure the idle connection timeout for your Classic Load Balancer" (https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/config-idle-timeout.html): '
      + 'default 60 s for both connections; "TCP keep-alive probes do not prevent the load balancer from terminating the connection because they do not send data in the payload". '
      + 'Range 1-3600 s: AWS CloudFormation, AWS::ElasticLoadBalancing::LoadBalancer ConnectionSettings, IdleTimeout minimum 1, maximum 3600.',
  },
  'azure-lb': {
    name: 'azure-lb',
    title: 'Azure Load Balancer (Standard), load-balancing, inbound NAT and outbound rules',
    idleLimitMs: 4 * MIN,
    configurableMs: { min: 4 * MIN, max: 100 * MIN },
    atExpiry: 'silent-drop',
    expiryNote: 'the flow is dropped silently, unless the rule enables "TCP reset on idle" (then both ends get RST)',
    proxy: false,
    keepaliveRefreshes: true,
    source:
      'Microsoft, "Configure TCP reset and idle timeout for Azure Load Balancer" (https://learn.microsoft.com/azure/load-balancer/load-balancer-tcp-idle-timeout): '
      + 'timeout range 4 to 100 minutes, default 4 minutes. Microsoft, "Load Balancer TCP Reset and Idle Timeout" (https://learn.microsoft.com/azure/load-balancer/load-balancer-tcp-reset): '
      + 'the default behaviour is to silently drop flows at the idle timeout; TCP reset on idle sends bidirectional RSTs; TCP or application keepalives refresh the idle timeout of a flow.',
  },
  'gcp-nat': {
    name: 'gcp-nat',
    title: 'Google Cloud NAT, established TCP connections',
    idleLimitMs: 1200 * S,
    configurableMs: null,
    atExpiry: 'silent-drop',
    expiryNote: 'the NAT mapping is dropped; later packets get no answer (per a secondary source, see source)',
    proxy: false,
    keepaliveRefreshes: true,
    source:
      'Google Compute Engine API, RouterNat.tcpEstablishedIdleTimeoutSec: "Timeout (in seconds) for TCP established connections. Defaults to 1200s if not set." '
      + '(tcpTransitoryIdleTimeoutSec defaults to 30 s), as the API\'s generated client references publish it (https://pub.dev/documentation/googleapis/latest/compute_v1/RouterNat/tcpEstablishedIdleTimeoutSec.html; google-compute1 RouterNat on docs.rs). '
      + 'That the mapping is dropped silently comes from a secondary source (oneuptime.com, "How to configure Cloud NAT timeout values for long-lived TCP connections in GCP"), not from Google.',
  },
  'gcp-lb': {
    name: 'gcp-lb',
    title: 'Google Cloud external Application Load Balancer (Google Front End, a proxy)',
    idleLimitMs: 600 * S,
    configurableMs: null,
    atExpiry: 'close',
    expiryNote: 'the proxy closes its idle connection to the backend (fixed 600 s); its client-side HTTP keepalive timeout is 610 s by default',
    proxy: true,
    keepaliveRefreshes: false,
    source:
      'Google Cloud, "Request distribution for external Application Load Balancers", connections (https://cloud.google.com/load-balancing/docs/https/request-distribution): '
      + 'GFE client HTTP keepalive timeout 610 s, backend keepalive timeout 600 s (fixed). An idle figure for the external proxy Network Load Balancer (TCP proxy) could not be verified.',
  },
  'k8s-conntrack': {
    name: 'k8s-conntrack',
    title: 'Kubernetes node conntrack as kube-proxy sets it (Service NAT)',
    idleLimitMs: 24 * H,
    configurableMs: null,
    atExpiry: 'forget',
    expiryNote: 'the conntrack entry expires; a later packet of the flow may be dropped as invalid or meet a NAT decision made anew (another backend answers RST)',
    proxy: false,
    keepaliveRefreshes: true,
    source:
      'Kubernetes, kube-proxy command-line reference (https://kubernetes.io/docs/reference/command-line-tools-reference/kube-proxy/, read in its Chinese edition): --conntrack-tcp-timeout-established default 24h0m0s '
      + '(idle timeout for established TCP connections; 0 leaves the current setting), --conntrack-tcp-timeout-close-wait default 1h0m0s.',
  },
  'linux-conntrack': {
    name: 'linux-conntrack',
    title: 'Linux netfilter conntrack (a Linux router, NAT or stateful firewall) with kernel defaults',
    idleLimitMs: 432_000 * S,
    configurableMs: null,
    atExpiry: 'forget',
    expiryNote: 'the conntrack entry expires; NAT or a stateful ruleset then drops or mistranslates the next packet',
    proxy: false,
    keepaliveRefreshes: true,
    source:
      'Linux, net/netfilter/nf_conntrack_proto_tcp.c: tcp_timeouts[TCP_CONNTRACK_ESTABLISHED] = 5 DAYS (sysctl net.netfilter.nf_conntrack_tcp_timeout_established = 432000, '
      + 'read back on kernel 6.18); TCP_CONNTRACK_CLOSE_WAIT = 60 s.',
  },
};

export function preset(name: PresetName): MiddleboxPreset {
  return PRESETS[name];
}
