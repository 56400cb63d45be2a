/**
 * Typed test fakes: `fake<KubeApi>({ listNodes: async () => [...] }, 'KubeApi')`.
 *
 * The stubs are checked against the interface (a method renamed or retyped in KubeApi, Etcdctl or the OpenStack
 * types breaks the fake at compile time, which `{...} as never` did not), nested service objects may be given in
 * part too (`fake<OpenStackClient>({ volume: { getVolume } })`), and a member the test did not stub throws a
 * clear error naming it when it is called (`fake KubeApi: deleteNode() is not stubbed`) instead of
 * "undefined is not a function" or, worse, silently answering undefined.
 *
 * Plain data members (strings, numbers, arrays) are not faked: give them in the partial when the code reads them.
 */

type AnyFn = (...args: never[]) => unknown;

/** What a test may give: any subset of members; nested objects (not functions or arrays) in part as well. */
export type FakePartial<T> = {
  [K in keyof T]?: T[K] extends AnyFn
    ? T[K]
    : T[K] extends readonly unknown[]
      ? T[K]
      : T[K] extends object
        ? FakePartial<T[K]>
        : T[K];
};

/** Members that runtime machinery probes for; a fake answers undefined rather than pretending to have them. */
const PROBED = new Set(['then', 'catch', 'finally', 'toJSON', 'asymmetricMatch', 'nodeType', 'constructor', '$$typeof']);

function missing(label: string, path: string): unknown {
  const fail = (): never => {
    throw new Error(`fake ${label}: ${path}() is not stubbed (give it in the fake's partial)`);
  };
  // a callable stand-in, so that `fake.compute.listServers()` names `compute.listServers` too
  return new Proxy(fail, {
    get(_t, prop) {
      if (typeof prop === 'symbol' || PROBED.has(prop)) return undefined;
      return missing(label, `${path}.${prop}`);
    },
    apply: fail,
  });
}

function wrap<T extends object>(partial: T, label: string, prefix: string): T {
  return new Proxy(partial, {
    get(target, prop, receiver) {
      if (typeof prop === 'symbol' || prop in target) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof prop === 'string' && v && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype) {
          return wrap(v as object, label, `${prefix}${prop}.`);
        }
        return v;
      }
      if (PROBED.has(prop)) return undefined;
      return missing(label, `${prefix}${prop}`);
    },
  });
}

/**
 * A T made of the given members; calling any other member throws an error that names it.
 * @param label how errors name the fake, e.g. 'KubeApi'
 */
export function fake<T extends object>(partial: FakePartial<T> = {}, label = 'object'): T {
  return wrap(partial as object, label, '') as T;
}
