/**
 * `Promise.withResolvers` (ES2024) for Node 20: aws-local-stepfunctions 3 calls it in every Task state and
 * declares Node >= 22. Installs a spec-conforming version when the runtime has none; a no-op on Node 22+.
 * @returns true when the polyfill was installed by this call.
 */
export function installWithResolvers(): boolean {
  const ctor = Promise as PromiseConstructor & { withResolvers?: unknown };
  if (typeof ctor.withResolvers === 'function') return false;
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function withResolvers<T>(this: PromiseConstructor) {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      // `this` so subclasses get instances of themselves, as the spec says.
      const promise = new this<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
  return true;
}
