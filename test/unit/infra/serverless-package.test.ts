import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  consumerEnvSchema,
  parseConsumerSpec,
  parseEnv,
  type ConsumerSpecInput,
} from '../../../shared/config/index.js';

const run = promisify(execFile);

type Resource = { Type: string; Condition?: string; Properties: Record<string, unknown> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type Template = { Conditions?: Record<string, unknown>; Resources: Record<string, Resource> };

function statements(role: Resource): Statement[] {
  const policies = (role.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

function actions(role: Resource): string[] {
  return statements(role).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}

/** `osls package` for a stage, offline: no AWS credentials or config reach it. Returns its stdout. */
async function packageStage(outDir: string, options: string[]): Promise<string> {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith('AWS_') && name !== 'AWS_CA_BUNDLE') delete env[name];
  }
  const { stdout } = await run(
    process.execPath,
    ['scripts/package-check.mjs', ...options, '--package', outDir],
    { env: { ...env, AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' } },
  );
  return stdout;
}

async function readTemplate(outDir: string): Promise<Template> {
  return JSON.parse(
    await readFile(join(outDir, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as Template;
}

const NO_VALUE = Symbol('AWS::NoValue');

/**
 * What CloudFormation makes of a packaged template: its Conditions, and the resources they keep, with Fn::If,
 * AWS::NoValue and the string functions (Fn::Split, Fn::Select, Fn::Join) resolved. Other references (Ref to
 * a resource, Fn::GetAtt) stay as they are. A condition that is not a boolean, or a Fn::Select out of range,
 * throws: CloudFormation would refuse the template.
 */
class Deployment {
  private readonly conditions = new Map<string, boolean>();

  constructor(private readonly template: Template) {}

  /** The resources CloudFormation would create, properties resolved. */
  resources(): Record<string, Resource> {
    return Object.fromEntries(
      Object.entries(this.template.Resources)
        .filter(([, r]) => r.Condition === undefined || this.condition(r.Condition))
        .map(([id, r]) => [id, { ...r, Properties: this.value(r.Properties) as Record<string, unknown> }]),
    );
  }

  condition(name: string): boolean {
    let value = this.conditions.get(name);
    if (value === undefined) {
      const definition = this.template.Conditions?.[name];
      if (definition === undefined) throw new Error(`condition ${name} is not defined`);
      value = this.boolean(definition, name);
      this.conditions.set(name, value);
    }
    return value;
  }

  private boolean(node: unknown, where: string): boolean {
    const value = this.value(node);
    if (typeof value !== 'boolean') throw new Error(`${where}: ${JSON.stringify(node)} is not a condition`);
    return value;
  }

  private string(node: unknown, where: string): string {
    const value = this.value(node);
    if (typeof value !== 'string') throw new Error(`${where}: ${JSON.stringify(node)} is not a string`);
    return value;
  }

  value(node: unknown): unknown {
    if (Array.isArray(node)) return node.map((n) => this.value(n)).filter((n) => n !== NO_VALUE);
    if (node === null || typeof node !== 'object') return node;
    const entries = Object.entries(node);
    const [fn, arg] = entries.length === 1 ? entries[0]! : [];
    const args = arg as unknown[];
    switch (fn) {
      case 'Ref':
        return arg === 'AWS::NoValue' ? NO_VALUE : node;
      case 'Condition':
        return this.condition(arg as string);
      case 'Fn::If':
        return this.condition(args[0] as string) ? this.value(args[1]) : this.value(args[2]);
      case 'Fn::Equals':
        return this.string(args[0], fn) === this.string(args[1], fn);
      case 'Fn::Not':
        return !this.boolean(args[0], fn);
      case 'Fn::And':
        return args.map((a) => this.boolean(a, fn)).every(Boolean);
      case 'Fn::Or':
        return args.map((a) => this.boolean(a, fn)).some(Boolean);
      case 'Fn::Split':
        return this.string(args[1], fn).split(args[0] as string);
      case 'Fn::Select': {
        const list = this.value(args[1]) as unknown[];
        const index = Number(args[0]);
        if (index >= list.length) throw new Error(`Fn::Select: no index ${index} in ${JSON.stringify(list)}`);
        return list[index];
      }
      case 'Fn::Join': {
        const list = this.value(args[1]) as unknown[];
        return list.every((s) => typeof s === 'string')
          ? list.join(args[0] as string)
          : { [fn]: [args[0], list] };
      }
      default:
        return Object.fromEntries(
          entries.map(([k, v]) => [k, this.value(v)]).filter(([, v]) => v !== NO_VALUE),
        );
    }
  }
}

// `osls package` must work offline, without AWS credentials: it is what CI checks.
describe('serverless.yml', () => {
  let outDir: string;

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'rbl-package-'));
  });

  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('packages offline without credentials, honouring stage and region', async () => {
    const stdout = await packageStage(outDir, ['--stage', 'ci', '--param=region=eu-central-1']);
    expect(stdout).toContain('package-check: ok');
    expect(stdout).toContain('stage ci region eu-central-1');

    const template = JSON.parse(
      await readFile(join(outDir, 'cloudformation-template-update-stack.json'), 'utf8'),
    );
    expect(template.Resources).toHaveProperty('ServerlessDeploymentBucket');
    const state = JSON.parse(await readFile(join(outDir, 'serverless-state.json'), 'utf8'));
    expect(state.service.service).toBe('redis-bulk-loader');
    expect(state.service.provider).toMatchObject({ name: 'aws', runtime: 'nodejs22.x', stage: 'ci' });
  });

  // The import stack (functions import-*, infra/import.asl.json), from the template packaged above.
  describe('the S3 → Step Functions → Lambda import stack', () => {
    let resources: Record<string, Resource>;
    beforeAll(async () => {
      const template = JSON.parse(
        await readFile(join(outDir, 'cloudformation-template-update-stack.json'), 'utf8'),
      ) as { Resources: Record<string, Resource> };
      resources = template.Resources;
    });

    it('has the three functions with memory, timeout, VPC and their environment', () => {
      const fn = (id: string) => resources[id]!.Properties;
      expect(fn('ImportDashstartLambdaFunction')).toMatchObject({ Runtime: 'nodejs22.x', Timeout: 900 });
      expect(fn('ImportDashchunkLambdaFunction')).toMatchObject({ MemorySize: 1024, Timeout: 900 });
      // Grouped chunks sort by bucket in /tmp: 10 GiB of it, and import-start sizes chunks to that.
      expect(fn('ImportDashchunkLambdaFunction')).toMatchObject({
        EphemeralStorage: { Size: 10240 },
        Environment: { Variables: { EXCLUSIVE_TEMP: 'true' } },
      });
      expect(fn('ImportDashstartLambdaFunction')).toMatchObject({
        Environment: { Variables: { CHUNK_TEMP_MIB: '10240', GROUPED_CHUNK_BYTES: '1073741824' } },
      });
      expect(fn('ImportDashfinishLambdaFunction')).toMatchObject({ Timeout: 300 });
      for (const id of [
        'ImportDashstartLambdaFunction',
        'ImportDashchunkLambdaFunction',
        'ImportDashfinishLambdaFunction',
      ]) {
        expect(fn(id).VpcConfig).toMatchObject({
          SubnetIds: expect.any(Array),
          SecurityGroupIds: expect.any(Array),
        });
        expect((fn(id).Environment as { Variables: Record<string, unknown> }).Variables).toHaveProperty(
          'REDIS_URL',
        );
      }
      const startEnv = (
        fn('ImportDashstartLambdaFunction').Environment as { Variables: Record<string, unknown> }
      ).Variables;
      expect(startEnv.STATE_MACHINE_ARN).toEqual({ Ref: 'ImportStateMachine' });
      expect(startEnv.ALLOWED_SOURCES).toBe('redis-bulk-loader-incoming/incoming/');
    });

    it('triggers import-start from ObjectCreated on the existing bucket, under the prefix only', () => {
      const trigger = Object.values(resources).find((r) => r.Type === 'Custom::S3')!;
      const config = trigger.Properties.BucketConfigs as { Event: string; Rules: { Prefix?: string }[] }[];
      expect(trigger.Properties.BucketName).toBe('redis-bulk-loader-incoming');
      expect(config).toEqual([
        expect.objectContaining({ Event: 's3:ObjectCreated:*', Rules: [{ Prefix: 'incoming/' }] }),
      ]);
    });

    it('deploys the ASL file with its retry policy: RetryableError and Lambda errors only, backoff and jitter', async () => {
      const machine = resources.ImportStateMachine!.Properties;
      const [text] = (machine.DefinitionString as { 'Fn::Sub': [string, unknown] })['Fn::Sub'];
      const definition = JSON.parse(text) as {
        States: Record<string, { ItemProcessor?: { States: Record<string, { Retry?: unknown }> } }>;
      };
      const asl = JSON.parse(await readFile('infra/import.asl.json', 'utf8')) as typeof definition;
      expect(Object.keys(definition.States)).toEqual(Object.keys(asl.States));
      const retry = definition.States.LoadChunks!.ItemProcessor!.States.LoadChunk!.Retry;
      expect(retry).toEqual([
        expect.objectContaining({
          ErrorEquals: expect.arrayContaining([
            'RetryableError',
            'Lambda.ServiceException',
            'Lambda.TooManyRequestsException',
          ]),
          IntervalSeconds: 2,
          BackoffRate: 2,
          MaxAttempts: 6,
          MaxDelaySeconds: 60,
          JitterStrategy: 'FULL',
        }),
      ]);
      expect(JSON.stringify(retry)).not.toContain('FatalError');
      expect(text).not.toContain('Fn::GetAtt');
    });

    it('grants each role only what its function needs', () => {
      expect(actions(resources.ImportStartRole!).sort()).toEqual([
        's3:GetObject',
        's3:PutObject',
        'states:DescribeExecution',
        'states:StartExecution',
      ]);
      expect(actions(resources.ImportChunkRole!).sort()).toEqual([
        's3:AbortMultipartUpload',
        's3:GetObject',
        's3:PutObject',
      ]);
      expect(actions(resources.ImportFinishRole!)).toEqual(['s3:PutObject']);
      const all = [
        resources.ImportStartRole!,
        resources.ImportChunkRole!,
        resources.ImportFinishRole!,
        resources.ImportStateMachineExecutionRole!,
      ];
      for (const role of all) {
        for (const s of statements(role)) {
          expect(s.Resource).not.toBe('*');
          expect(JSON.stringify(s.Action)).not.toContain('*');
        }
      }
      const reads = statements(resources.ImportChunkRole!).find((s) => s.Action === 's3:GetObject')!;
      expect(reads.Resource).toBe('arn:aws:s3:::redis-bulk-loader-incoming/incoming/*');
      expect(resources.ImportStateMachine!.Properties.RoleArn).toEqual({
        'Fn::GetAtt': ['ImportStateMachineExecutionRole', 'Arn'],
      });
    });
  });

  // functions/kafka-consumer and its MSK and self-managed mappings (infra/kafka-mappings.yml). `off` is the
  // stage packaged above, with the default params (no Kafka source); `on` is packaged here with every source
  // and target set. Both in this file, one after the other: serverless-esbuild has one work folder per service.
  describe('the Kafka → Redis consumer', () => {
    const account = '123456789012';
    const cluster = 'orders/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0-2';
    const clusterArn = `arn:aws:kafka:eu-central-1:${account}:cluster/${cluster}`;
    const secretArn = `arn:aws:secretsmanager:eu-central-1:${account}:secret:rbl-kafka-scram-AbCdEf`;
    const queueArn = `arn:aws:sqs:eu-central-1:${account}:rbl-kafka-failures`;
    const redisSecretArn = `arn:aws:ssm:eu-central-1:${account}:parameter/rbl/redis-loader`;
    const dlqSecretArn = `arn:aws:secretsmanager:eu-central-1:${account}:secret:rbl-dlq-producer-GhIjKl`;
    const params: Record<string, string> = {
      region: 'eu-central-1',
      kafkaMskClusterArn: clusterArn,
      kafkaMskTopic: 'orders',
      kafkaSelfManagedBootstrapServers: 'b-1.kafka.internal:9096,b-2.kafka.internal:9096',
      kafkaSelfManagedTopic: 'clicks',
      kafkaSelfManagedSaslSecretArn: secretArn,
      kafkaSelfManagedSubnetIds: 'subnet-0aaa,subnet-0bbb',
      kafkaSelfManagedSecurityGroupIds: 'sg-0ccc',
      kafkaStartingPosition: 'TRIM_HORIZON',
      kafkaMaximumRetryAttempts: '10',
      kafkaMaximumRecordAgeSeconds: '3600',
      kafkaOnFailureDestination: queueArn,
      kafkaDeadLetterTopic: 'orders-dlq',
      kafkaDeadLetterS3: 's3://rbl-dead-letters/kafka/',
      kafkaDeadLetterSaslMechanism: 'scram-sha-512',
      kafkaDeadLetterSaslSecretArn: dlqSecretArn,
      redisSecretArn,
    };
    let onDir: string;
    let off: Template;
    let onText: string;
    let on: Record<string, Resource>;

    beforeAll(async () => {
      off = await readTemplate(outDir);
      onDir = await mkdtemp(join(tmpdir(), 'rbl-package-kafka-'));
      const stdout = await packageStage(onDir, [
        '--stage',
        'kafka',
        ...Object.entries(params).map(([name, value]) => `--param=${name}=${value}`),
      ]);
      expect(stdout).toContain('2 event-source mappings');
      onText = await readFile(join(onDir, 'cloudformation-template-update-stack.json'), 'utf8');
      on = new Deployment(JSON.parse(onText) as Template).resources();
    });

    afterAll(async () => {
      await rm(onDir, { recursive: true, force: true });
    });

    const variables = (fn: Resource) =>
      (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
    const mappings = (resources: Record<string, Resource>) =>
      Object.keys(resources).filter((id) => resources[id]!.Type === 'AWS::Lambda::EventSourceMapping');

    it('deploys kafka-consumer like the other functions, with every variable the consumer reads', () => {
      const fn = off.Resources.KafkaDashconsumerLambdaFunction!;
      expect(fn.Properties).toMatchObject({
        Handler: 'functions/kafka-consumer/handler.handler',
        Runtime: 'nodejs22.x',
        MemorySize: 1024,
        Timeout: 300,
        Role: { 'Fn::GetAtt': ['KafkaConsumerRole', 'Arn'] },
        VpcConfig: { SubnetIds: expect.any(Array), SecurityGroupIds: expect.any(Array) },
      });
      const env = variables(fn);
      // S3_ENDPOINT points the consumer at a local S3 (s3rver, MinIO); on AWS it stays unset. Credentials
      // come from secrets by ARN, read at cold start, and never as plain variables.
      const fromSecrets = [
        'REDIS_USERNAME',
        'REDIS_PASSWORD',
        'UPSTASH_REDIS_REST_TOKEN',
        'KAFKA_SASL_USERNAME',
        'KAFKA_SASL_PASSWORD',
      ];
      const read = Object.keys(consumerEnvSchema.shape).filter(
        (name) => name !== 'S3_ENDPOINT' && !fromSecrets.includes(name),
      );
      const secrets = [
        'REDIS_SECRET_ARN',
        'UPSTASH_TOKEN_SECRET_ARN',
        'KAFKA_SASL_SECRET_ARN',
        'SECRETS_TTL_SECONDS',
      ];
      expect(Object.keys(env).sort()).toEqual([...read, ...secrets].sort());
      expect(env).toMatchObject({
        REDIS_URL: 'rediss://redis-bulk-loader.example.internal:6379',
        CONSUMER_GROUP_ID: 'redis-bulk-loader-ci',
        WATERMARK_PREFIX: 'rbl:wm:',
        TRACE_HEADER: 'traceparent',
        DEAD_LETTER_S3: '',
        KAFKA_BROKERS: '',
      });
      // The defaults pass the consumer's own checks at cold start.
      const parsed = parseEnv(consumerEnvSchema, env);
      expect(parsed.TIMEOUT_MARGIN_MS).toBeLessThan(300_000);
      expect(parseConsumerSpec(JSON.parse(env.CONSUMER_SPEC!) as ConsumerSpecInput)).toMatchObject({
        key: 'user:{id}',
      });
      const withTargets = parseEnv(consumerEnvSchema, variables(on.KafkaDashconsumerLambdaFunction!));
      expect(withTargets.DEAD_LETTER_S3).toEqual({ bucket: 'rbl-dead-letters', prefix: 'kafka/' });
    });

    it('deploys no mapping and no Kafka permission on a stage without Kafka sources', () => {
      expect(off.Resources.KafkaMskEventSourceMapping!.Condition).toBe('KafkaMskEnabled');
      expect(off.Resources.KafkaSelfManagedEventSourceMapping!.Condition).toBe('KafkaSelfManagedEnabled');
      const deployed = new Deployment(off).resources();
      expect(mappings(deployed)).toEqual([]);
      expect(deployed).toHaveProperty('KafkaDashconsumerLambdaFunction');
      expect(deployed.KafkaConsumerRole!.Properties).not.toHaveProperty('Policies');
      expect(mappings(on).sort()).toEqual([
        'KafkaMskEventSourceMapping',
        'KafkaSelfManagedEventSourceMapping',
      ]);
    });

    // --param values reach the template as strings (CloudFormation converts them); a params block keeps numbers.
    const common = {
      FunctionName: { Ref: 'KafkaDashconsumerLambdaFunction' },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 1,
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 10 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: '10',
      MaximumRecordAgeInSeconds: '3600',
      BisectBatchOnFunctionError: false,
      DestinationConfig: { OnFailure: { Destination: queueArn } },
    };

    it('maps the MSK topic with the consumer group, partial batch responses, retries and destination', () => {
      expect(on.KafkaMskEventSourceMapping!.Properties).toEqual({
        ...common,
        EventSourceArn: clusterArn,
        Topics: ['orders'],
        AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'redis-bulk-loader-kafka' },
      });
      // The defaults: new groups start at the end; retry until the record leaves the topic, no destination.
      for (const id of ['KafkaMskEventSourceMapping', 'KafkaSelfManagedEventSourceMapping']) {
        expect(off.Resources[id]!.Properties).toMatchObject({
          StartingPosition: 'LATEST',
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          MaximumRetryAttempts: -1,
          MaximumRecordAgeInSeconds: -1,
        });
      }
    });

    it('maps the self-managed topic with the SASL/SCRAM secret by ARN, VPC subnets and security group', () => {
      expect(on.KafkaSelfManagedEventSourceMapping!.Properties).toEqual({
        ...common,
        SelfManagedEventSource: {
          Endpoints: { KafkaBootstrapServers: ['b-1.kafka.internal:9096', 'b-2.kafka.internal:9096'] },
        },
        Topics: ['clicks'],
        SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'redis-bulk-loader-kafka' },
        SourceAccessConfigurations: [
          { Type: 'SASL_SCRAM_512_AUTH', URI: secretArn },
          { Type: 'VPC_SUBNET', URI: 'subnet:subnet-0aaa' },
          { Type: 'VPC_SUBNET', URI: 'subnet:subnet-0bbb' },
          { Type: 'VPC_SECURITY_GROUP', URI: 'security_group:sg-0ccc' },
        ],
      });
      // Three subnets and two security groups fill every slot (the params as serverless would write them).
      const slots = new Deployment(
        JSON.parse(
          onText
            .replaceAll('subnet-0aaa,subnet-0bbb,,', 'subnet-0aaa,subnet-0bbb,subnet-0ddd,,')
            .replaceAll('sg-0ccc,,', 'sg-0ccc,sg-0eee,,'),
        ) as Template,
      ).resources();
      expect(slots.KafkaSelfManagedEventSourceMapping!.Properties.SourceAccessConfigurations).toEqual([
        { Type: 'SASL_SCRAM_512_AUTH', URI: secretArn },
        { Type: 'VPC_SUBNET', URI: 'subnet:subnet-0aaa' },
        { Type: 'VPC_SUBNET', URI: 'subnet:subnet-0bbb' },
        { Type: 'VPC_SUBNET', URI: 'subnet:subnet-0ddd' },
        { Type: 'VPC_SECURITY_GROUP', URI: 'security_group:sg-0ccc' },
        { Type: 'VPC_SECURITY_GROUP', URI: 'security_group:sg-0eee' },
      ]);
    });

    it("gives the function the mappings' consumer group and keeps secrets out of the template", () => {
      const env = variables(on.KafkaDashconsumerLambdaFunction!);
      expect(env.CONSUMER_GROUP_ID).toBe('redis-bulk-loader-kafka');
      // Credentials travel as ARNs, read by the function at cold start (shared/config/secrets.ts).
      expect(env).toMatchObject({
        REDIS_SECRET_ARN: redisSecretArn,
        KAFKA_SASL_SECRET_ARN: dlqSecretArn,
        SECRETS_TTL_SECONDS: '300',
      });
      const strings: string[] = [];
      const keys: string[] = [];
      const collect = (node: unknown): void => {
        if (typeof node === 'string') strings.push(node);
        else if (node !== null && typeof node === 'object') {
          keys.push(...Object.keys(node));
          Object.values(node).forEach(collect);
        }
      };
      collect(JSON.parse(onText));
      const secretStrings = strings.filter(
        (text) => text.includes(':secret:') || text.includes(':parameter/'),
      );
      expect(secretStrings.length).toBeGreaterThanOrEqual(5);
      expect(new Set(secretStrings)).toEqual(new Set([secretArn, redisSecretArn, dlqSecretArn]));
      // No password-like variable, no value resolved into the template at deploy time.
      expect(keys.filter((k) => /PASSWORD|_TOKEN$|_SECRET$/i.test(k))).toEqual([]);
      expect(strings.filter((text) => text.includes('{{resolve:'))).toEqual([]);
    });

    it('lets each role read exactly the secrets its functions name, and none without them', () => {
      const policyOf = (resources: Record<string, Resource>, id: string) =>
        resources[id] as
          | (Resource & { Properties: { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } } })
          | undefined;
      const read = ['secretsmanager:GetSecretValue', 'ssm:GetParameter'];
      const redis = policyOf(on, 'RedisSecretReadPolicy')!;
      expect(redis.Properties.Roles).toEqual([
        { Ref: 'ImportStartRole' },
        { Ref: 'ImportChunkRole' },
        { Ref: 'ImportFinishRole' },
        { Ref: 'IamRoleLambdaExecution' },
      ]);
      expect(redis.Properties.PolicyDocument.Statement).toEqual([
        { Effect: 'Allow', Action: read, Resource: redisSecretArn },
      ]);
      const consumer = policyOf(on, 'KafkaConsumerSecretReadPolicy')!;
      expect(consumer.Properties.Roles).toEqual([{ Ref: 'KafkaConsumerRole' }]);
      expect(consumer.Properties.PolicyDocument.Statement).toEqual([
        { Effect: 'Allow', Action: read, Resource: redisSecretArn },
        { Effect: 'Allow', Action: read, Resource: dlqSecretArn },
      ]);
      // Every function of the import stack gets the ARN and the TTL.
      for (const id of [
        'ImportDashstartLambdaFunction',
        'ImportDashchunkLambdaFunction',
        'ImportDashfinishLambdaFunction',
        'HealthDashprobeLambdaFunction',
      ]) {
        expect(variables(on[id]!)).toMatchObject({
          REDIS_SECRET_ARN: redisSecretArn,
          SECRETS_TTL_SECONDS: '300',
        });
      }
      const defaults = new Deployment(off).resources();
      expect(policyOf(defaults, 'UpstashTokenReadPolicy')).toBeUndefined();
      expect(policyOf(defaults, 'RedisSecretReadPolicy')).toBeUndefined();
      expect(policyOf(defaults, 'KafkaConsumerSecretReadPolicy')).toBeUndefined();
    });

    it('grants the role only scoped Kafka, Secrets Manager, S3 and SQS permissions', () => {
      const role = on.KafkaConsumerRole!;
      const prefix = `arn:aws:kafka:eu-central-1:${account}`;
      expect(statements(role).filter((s) => !String(s.Action).startsWith('ec2:'))).toEqual([
        {
          Effect: 'Allow',
          Action: [
            'kafka:DescribeCluster',
            'kafka:DescribeClusterV2',
            'kafka:GetBootstrapBrokers',
            'kafka-cluster:Connect',
            'kafka-cluster:DescribeClusterDynamicConfiguration',
          ],
          Resource: clusterArn,
        },
        {
          Effect: 'Allow',
          Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
          Resource: `${prefix}:topic/${cluster}/orders`,
        },
        {
          Effect: 'Allow',
          Action: ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'],
          Resource: `${prefix}:group/${cluster}/redis-bulk-loader-kafka`,
        },
        {
          Effect: 'Allow',
          Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
          Resource: `${prefix}:topic/${cluster}/orders-dlq`,
        },
        { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretArn },
        { Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::rbl-dead-letters/kafka/*' },
        { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn },
      ]);
      // The mappings' network interfaces: EC2 Describe* support no resource-level permissions (serverless.yml).
      expect(statements(role).filter((s) => String(s.Action).startsWith('ec2:'))).toEqual([
        {
          Effect: 'Allow',
          Action: [
            'ec2:CreateNetworkInterface',
            'ec2:DeleteNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSecurityGroups',
            'ec2:DescribeSubnets',
            'ec2:DescribeVpcs',
          ],
          Resource: '*',
        },
      ]);
      for (const s of statements(role).filter((s) => !String(s.Action).startsWith('ec2:'))) {
        expect(s.Resource).not.toBe('*');
        expect(String(s.Resource)).toMatch(/^arn:aws:[a-z0-9-]+:[^*]*(\/\*)?$/);
      }
    });

    it('grants what each kind of on-failure destination needs, on that destination only', () => {
      const grants = (destination: string) => {
        const deployed = new Deployment(JSON.parse(onText.replaceAll(queueArn, destination)) as Template);
        const role = deployed.resources().KafkaConsumerRole!;
        const deadLetters = 'arn:aws:s3:::rbl-dead-letters/kafka/*';
        return statements(role).filter(
          (s) => /^(sqs|sns|s3):/.test(String(s.Action)) && s.Resource !== deadLetters,
        );
      };
      const topic = `arn:aws:sns:eu-central-1:${account}:rbl-kafka-failures`;
      expect(grants(queueArn)).toEqual([{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn }]);
      expect(grants(topic)).toEqual([{ Effect: 'Allow', Action: 'sns:Publish', Resource: topic }]);
      expect(grants('arn:aws:s3:::rbl-kafka-failures')).toEqual([
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::rbl-kafka-failures' },
        { Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::rbl-kafka-failures/*' },
      ]);
    });
  });
});
