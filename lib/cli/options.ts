/**
 * Global options, shared by every command. Kept free of heavy imports: main.ts loads this for --help.
 */
import { durationSeconds } from '../duration.js';
import type { Argv } from 'yargs';
export type OutputFormat = 'table' | 'json' | 'yaml' | 'value';

export interface GlobalOptions {
  'os-cloud'?: string;
  'os-region-name'?: string;
  'os-interface'?: string;
  'os-cacert'?: string;
  'os-cert'?: string;
  'os-key'?: string;
  insecure?: boolean;
  'os-auth-url'?: string;
  'os-auth-type'?: string;
  'os-username'?: string;
  'os-password'?: string;
  'os-user-domain-name'?: string;
  'os-user-domain-id'?: string;
  'os-project-name'?: string;
  'os-project-id'?: string;
  'os-project-domain-name'?: string;
  'os-project-domain-id'?: string;
  'os-application-credential-id'?: string;
  'os-application-credential-secret'?: string;
  'os-application-credential-name'?: string;
  kubeconfig?: string;
  context?: string;
  /** seconds (from a duration: 90s, 5m) */
  'request-timeout'?: number;
  format: OutputFormat;
  /** -c/--column, repeatable */
  column?: string | string[];
  verbose: number;
  quiet: boolean;
  debug: boolean;
  color: boolean;
  yes: boolean;
}

type Opt = {
  type: 'string' | 'boolean' | 'count';
  describe: string;
  alias?: string | string[];
  choices?: string[];
  default?: unknown;
  group: string;
  coerce?: (v: unknown) => unknown;
  /** shown in help as <value name> */
  value?: string;
};

const OS = 'OpenStack (override clouds.yaml and OS_* variables):';
const K8S = 'Kubernetes:';
const OUT = 'Output:';

/** OpenStack options that take a string: flag -> description. */
function osStrings(d: Record<string, string>): Record<string, Opt> {
  return Object.fromEntries(Object.entries(d).map(([k, describe]) => [k, { type: 'string', describe, group: OS }]));
}

export const GLOBAL_OPTIONS: Record<string, Opt> = {
  ...osStrings({ 'os-cloud': 'cloud name in clouds.yaml (env OS_CLOUD)', 'os-region-name': 'region (env OS_REGION_NAME)' }),
  'os-interface': { type: 'string', describe: 'endpoint interface', choices: ['public', 'internal', 'admin'], group: OS },
  ...osStrings({ 'os-cacert': 'CA bundle to verify the API (env OS_CACERT)', 'os-cert': 'client certificate (env OS_CERT)', 'os-key': 'client certificate key (env OS_KEY)' }),
  insecure: { type: 'boolean', describe: 'do not verify the API certificate (not recommended)', group: OS },
  ...osStrings({ 'os-auth-url': 'Keystone URL', 'os-auth-type': 'password or v3applicationcredential' }),
  ...osStrings({
    'os-username': 'user name', 'os-password': 'password (prefer clouds.yaml/secure.yaml or OS_PASSWORD)',
    'os-user-domain-name': 'user domain name', 'os-user-domain-id': 'user domain id',
  }),
  ...osStrings({
    'os-project-name': 'project name', 'os-project-id': 'project id', 'os-project-domain-name': 'project domain name', 'os-project-domain-id': 'project domain id',
  }),
  ...osStrings({
    'os-application-credential-id': 'application credential id', 'os-application-credential-secret': 'application credential secret',
    'os-application-credential-name': 'application credential name',
  }),
  kubeconfig: { type: 'string', describe: 'kubeconfig file(s) (env KUBECONFIG, default ~/.kube/config)', group: K8S },
  context: { type: 'string', describe: 'kubeconfig context (default: current-context)', group: K8S },
  'request-timeout': {
    type: 'string',
    describe: 'give up on one API request (OpenStack or Kubernetes) after this long; default 60s, or api_timeout from clouds.yaml. A request with no answer at all is given up on after 20s (OpenStack) / 15s (Kubernetes) and retried',
    group: 'Timeouts:',
    coerce: durationSeconds('request-timeout'),
    value: 'duration',
  },
  format: {
    type: 'string',
    alias: ['f', 'o'],
    describe: 'result format (value: the values only, as openstack -f value; -o as kubectl)',
    choices: ['table', 'json', 'yaml', 'value'],
    default: 'table',
    group: OUT,
  },
  column: {
    type: 'string',
    alias: 'c',
    describe: 'show only this column (repeat for more), as openstack -c',
    group: OUT,
    value: 'column',
  },
  verbose: { type: 'count', alias: 'v', describe: 'more output (repeat for more)', group: OUT },
  quiet: { type: 'boolean', alias: 'q', describe: 'only warnings, errors and results', default: false, group: OUT },
  debug: { type: 'boolean', describe: 'trace API requests (secrets redacted) and show stack traces', default: false, group: OUT },
  color: { type: 'boolean', describe: 'colour output (--no-color or NO_COLOR to disable)', default: true, group: OUT },
  yes: { type: 'boolean', describe: 'answer yes to confirmations', default: false, group: OUT },
};

/** The OpenStack options passed to lib/openstack/config resolveCloud() as `cli`: the OS group above. */
export const OPENSTACK_FLAGS: readonly string[] = Object.keys(GLOBAL_OPTIONS).filter((k) => GLOBAL_OPTIONS[k]!.group === OS);

export function aliasesOf(o: Opt): string[] {
  return o.alias === undefined ? [] : Array.isArray(o.alias) ? o.alias : [o.alias];
}

/** Flags that take a value: needed to find the command word in argv before yargs runs. */
export const VALUE_FLAGS: ReadonlySet<string> = new Set(
  Object.entries(GLOBAL_OPTIONS).flatMap(([k, o]) => (o.type === 'string' ? [`--${k}`, ...aliasesOf(o).map((a) => `-${a}`)] : [])),
);

/** The first word in argv that is not an option or an option's value: the command name. */
export function findCommandWord(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return argv[i + 1];
    if (a.startsWith('-')) {
      if (!a.includes('=') && VALUE_FLAGS.has(a)) i++;
      continue;
    }
    return a;
  }
  return undefined;
}

/**
 * `--role`, shared by every verb that takes one: `node` (a worker) or `master`. kubectl's and kubeadm's
 * words are accepted: worker(s)/node(s) -> node, master(s)/control-plane -> master.
 */
export const ROLE_WORDS: Record<string, 'node' | 'master'> = {
  node: 'node', nodes: 'node', worker: 'node', workers: 'node',
  master: 'master', masters: 'master', 'control-plane': 'master', controlplane: 'master',
};

export function roleOption(describe: string) {
  return {
    alias: 'r',
    choices: ['node', 'master'] as const,
    default: 'node' as const,
    describe: `${describe} (worker = node, control-plane = master)`,
    coerce: (v: unknown) => {
      const raw = Array.isArray(v) ? v[v.length - 1] : v;
      const s = String(raw).toLowerCase();
      return ROLE_WORDS[s] ?? raw;
    },
  };
}

/**
 * The options of a command that builds replacement nodes (`replace`, `heal`): how long a replacement may
 * take, the adder image and the strictness of the cluster file. One definition, so the two commands keep
 * the same names, defaults and duration syntax (`20m`, `1200`).
 */
export interface ReplacementOptionArgs {
  /** seconds */
  timeout: number;
  /** seconds */
  'boot-timeout': number;
  'poll-interval': number;
  'evict-retry': number;
  'adder-image'?: string;
  strict: boolean;
}

export function withReplacementOptions<T>(y: Argv<T>) {
  return y
    .option('timeout', { type: 'string', default: 1200, coerce: durationSeconds('timeout'), describe: 'how long a replacement may take to join after ACTIVE (20m, 1200)' })
    .option('boot-timeout', { type: 'string', default: 600, coerce: durationSeconds('boot-timeout'), describe: 'how long the boot volume and the server may take to become ACTIVE (10m, 600)' })
    .option('poll-interval', { type: 'number', default: 2000, describe: 'first poll interval in ms (backs off)', hidden: true })
    .option('evict-retry', { type: 'number', default: 5000, describe: 'ms between eviction retries after a 429', hidden: true })
    .option('adder-image', { type: 'string', describe: 'masters: image of the master-adder pod (default: the cluster\'s etcd image)' })
    .option('strict', { type: 'boolean', default: false, describe: 'unknown keys in the cluster file are errors' });
}

/**
 * `--allow-adder`: a read-only run (`add --role master --dry-run`, `status --etcd`) may deploy the privileged
 * master-adder (a host-network Deployment in kube-system, deleted afterwards) to read etcd. Without it such a
 * run deploys nothing and says what it could not check. One name for every command (issue 12 point 3).
 */
export const ALLOW_ADDER_FLAG = 'allow-adder';

export function allowAdderOption(describe = 'a read-only run may deploy the master-adder (privileged, kube-system; deleted afterwards) to read etcd') {
  return { type: 'boolean' as const, default: false, describe };
}

/** The `<config>` positional of every command that works on a cluster file. */
export function configPositional<T>(y: Argv<T>, describe = 'cluster file (koris format, e.g. cfg.yml)') {
  return y.positional('config', { type: 'string', demandOption: true, describe });
}

/** `--strict`: unknown keys in the cluster file are errors (the loader's `strict`). */
export function strictOption<T>(y: Argv<T>, describe = 'unknown keys in the cluster file are errors') {
  return y.option('strict', { type: 'boolean', default: false, describe });
}

/**
 * `--force-unlock`: take the cluster lock (Lease kube-system/kadd-lock) at once even when another kadd holds
 * it. One definition for every verb that takes the Lease (`add`, `remove`, `replace`, `cleanup`).
 */
export function forceUnlockOption(describe = 'take the cluster lock (Lease kube-system/kadd-lock) even when another kadd holds it; only when that kadd is gone') {
  return { type: 'boolean' as const, default: false, describe };
}
