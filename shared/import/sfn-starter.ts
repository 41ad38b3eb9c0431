import type * as SfnSdk from '@aws-sdk/client-sfn';
import { classifyError } from '../errors/index.js';
import type { ImportPlan } from './schemas.js';
import type { ExecutionStarter } from './start.js';

// Loaded on first use: the import barrel re-exports this file, and a load from a local file never needs the SDK.
let loading: Promise<typeof SfnSdk> | undefined;
function sfnSdk(): Promise<typeof SfnSdk> {
  loading ??= import('@aws-sdk/client-sfn');
  return loading;
}

/** The ARN an execution named `name` of `stateMachineArn` has (Step Functions derives it this way). */
export function executionArnFor(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/**
 * Starts executions of a Step Functions state machine, at most once per name: an existing execution (found
 * with DescribeExecution, or refused by StartExecution as `ExecutionAlreadyExists`) means a duplicate.
 */
export class SfnExecutionStarter implements ExecutionStarter {
  constructor(
    private readonly client: SfnSdk.SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async find(name: string): Promise<string | undefined> {
    const executionArn = executionArnFor(this.stateMachineArn, name);
    const { DescribeExecutionCommand } = await sfnSdk();
    try {
      await this.client.send(new DescribeExecutionCommand({ executionArn }));
      return executionArn;
    } catch (err) {
      if (err instanceof Error && err.name === 'ExecutionDoesNotExist') return undefined;
      throw classifyError(err);
    }
  }

  async start(name: string, input: ImportPlan): Promise<{ started: boolean; executionArn: string }> {
    const { StartExecutionCommand } = await sfnSdk();
    try {
      const reply = await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      return {
        started: true,
        executionArn: reply.executionArn ?? executionArnFor(this.stateMachineArn, name),
      };
    } catch (err) {
      if (err instanceof Error && err.name === 'ExecutionAlreadyExists') {
        return { started: false, executionArn: executionArnFor(this.stateMachineArn, name) };
      }
      throw classifyError(err);
    }
  }
}
