import { readFile } from 'node:fs/promises';
import { ConfigError } from '../../shared/errors/index.js';

/** The functions a Task state can name in the ASL file (`{"Fn::GetAtt": ["<function>", "Arn"]}`). */
export type FunctionName = 'import-start' | 'import-chunk' | 'import-finish';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The ASL definition with every Task bound to a local function. */
export interface BoundDefinition {
  /** The definition with `Fn::GetAtt` resources replaced by placeholder Lambda ARNs. */
  readonly definition: Record<string, unknown>;
  /** Task state name -> the function its resource names. */
  readonly tasks: Readonly<Record<string, FunctionName>>;
}

const ASL_CANDIDATES = ['../../infra/import.asl.json', '../../../infra/import.asl.json'];

/**
 * Reads `infra/import.asl.json`, the state machine `serverless.yml` deploys (from `cli/local-stack/` or its
 * build under `dist/`).
 */
export async function readImportDefinition(): Promise<Record<string, unknown>> {
  for (const rel of ASL_CANDIDATES) {
    try {
      return JSON.parse(await readFile(new URL(rel, import.meta.url), 'utf8')) as Record<string, unknown>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new ConfigError('infra/import.asl.json not found next to the CLI');
}

/**
 * Binds the Task states of a definition to local functions: each `{"Fn::GetAtt": ["<function>", "Arn"]}`
 * resource (the form serverless-step-functions resolves at deploy time) becomes a placeholder ARN, and the
 * state's name is mapped to the function, for aws-local-stepfunctions' `taskResourceLocalHandlers`.
 * Task states with the same name must name the same function.
 */
export function bindTasks(definition: Record<string, unknown>): BoundDefinition {
  const tasks: Record<string, FunctionName> = {};
  const visit = (states: Record<string, Json>): void => {
    for (const [name, state] of Object.entries(states)) {
      if (state === null || typeof state !== 'object' || Array.isArray(state)) continue;
      if (state.Type === 'Task') {
        const resource = state.Resource;
        const att =
          resource !== null && typeof resource === 'object' && !Array.isArray(resource)
            ? resource['Fn::GetAtt']
            : undefined;
        if (!Array.isArray(att) || typeof att[0] !== 'string') {
          throw new ConfigError(`task state ${name}: Resource must be {"Fn::GetAtt": ["<function>", "Arn"]}`);
        }
        const fn = att[0] as FunctionName;
        if (tasks[name] !== undefined && tasks[name] !== fn) {
          throw new ConfigError(`task states named ${name} call different functions`);
        }
        tasks[name] = fn;
        state.Resource = `arn:aws:lambda:us-east-1:000000000000:function:${fn}`;
      }
      for (const nested of ['ItemProcessor', 'Iterator']) {
        const processor = state[nested];
        if (processor && typeof processor === 'object' && !Array.isArray(processor)) {
          visit(processor.States as Record<string, Json>);
        }
      }
      if (Array.isArray(state.Branches)) {
        for (const branch of state.Branches) {
          if (branch && typeof branch === 'object' && !Array.isArray(branch)) {
            visit(branch.States as Record<string, Json>);
          }
        }
      }
    }
  };
  const copy = structuredClone(definition) as { States: Record<string, Json> };
  visit(copy.States);
  return { definition: copy, tasks };
}
