import { afterEach } from 'vitest';
import { LocalImportStack, type LocalStackOptions } from '../../cli/local-stack/local-stack.js';
import { installWithResolvers } from '../../cli/local-stack/with-resolvers.js';
import type { StartOutcome } from '../../shared/import/index.js';
import { TEST_BUCKET } from './s3.js';

// aws-local-stepfunctions 3 needs Promise.withResolvers (Node 22+); these tests run on Node 20 too.
installWithResolvers();

/**
 * Creates {@link LocalImportStack}s (the real ASL file run by aws-local-stepfunctions, tasks bound to the
 * handlers in-process) and closes them after each test.
 *
 * @example
 * const stacks = useImportStacks();
 * const stack = await stacks.create({ redisUrls: [redis.server.url], s3Endpoint: s3.server.endpoint });
 */
export function useImportStacks(): {
  create(
    options: Omit<LocalStackOptions, 'reportBucket'> & { reportBucket?: string },
  ): Promise<LocalImportStack>;
} {
  const open: LocalImportStack[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  return {
    async create(options) {
      const stack = await LocalImportStack.create({ reportBucket: TEST_BUCKET, ...options });
      open.push(stack);
      return stack;
    },
  };
}

/** The outcome of an S3 event that started an import; throws (failing the test) with the outcome otherwise. */
export function started(outcome: StartOutcome | undefined): Extract<StartOutcome, { status: 'started' }> {
  if (outcome?.status !== 'started') throw new Error(`import not started: ${JSON.stringify(outcome)}`);
  return outcome;
}
