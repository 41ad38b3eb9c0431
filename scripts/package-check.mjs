#!/usr/bin/env node
// Runs `osls package` offline (no AWS credentials, no network) and checks its output.
//
//   node scripts/package-check.mjs [osls package options]
//   node scripts/package-check.mjs --stage prod --param=region=eu-central-1 --package /tmp/out
//
// Exits non-zero if osls fails, takes longer than the time limit, or the CloudFormation
// template is missing, stale, malformed or breaks a setting the functions rely on (runtime,
// Kafka mappings' partial batch responses and consumer group, DEAD_LETTER_S3 form).
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const timeoutMs = Number(process.env.PACKAGE_CHECK_TIMEOUT_MS ?? 120_000);

const optionValue = (long, short) => {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === long || arg === short) return args[i + 1];
    if (arg.startsWith(`${long}=`)) return arg.slice(long.length + 1);
  }
  return undefined;
};
const outDir = resolve(root, optionValue('--package', '-p') ?? '.serverless');

const fail = (message) => {
  console.error(`package-check: ${message}`);
  process.exit(1);
};

const started = Date.now();
const code = await new Promise((done) => {
  const child = spawn(
    process.execPath,
    [join(root, 'node_modules/osls/bin/serverless.js'), 'package', ...args],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  const timer = setTimeout(() => {
    console.error(`package-check: osls package still running after ${timeoutMs} ms, killing it`);
    child.kill('SIGKILL');
  }, timeoutMs);
  child.on('exit', (exitCode, signal) => {
    clearTimeout(timer);
    done(exitCode ?? (signal ? 128 : 1));
  });
});
const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (code !== 0) fail(`osls package exited with ${code} after ${seconds} s`);

const templatePath = join(outDir, 'cloudformation-template-update-stack.json');
const info = await stat(templatePath).catch(() => fail(`${templatePath} was not written`));
// Whole-second slack: some file systems store coarse modification times.
if (info.mtimeMs < started - 1000) fail(`${templatePath} is older than this run`);

let template;
try {
  template = JSON.parse(await readFile(templatePath, 'utf8'));
} catch (error) {
  fail(`${templatePath} is not valid JSON: ${error.message}`);
}
const resources = Object.entries(template.Resources ?? {});
if (resources.length === 0) fail('the template has no Resources');
for (const [id, resource] of resources) {
  if (resource.Type === 'AWS::Lambda::Function' && resource.Properties?.Runtime !== 'nodejs22.x') {
    fail(`function ${id} has runtime ${resource.Properties?.Runtime}, expected nodejs22.x`);
  }
}

// Kafka event-source mappings. Without ReportBatchItemFailures Lambda ignores the batchItemFailures a function
// returns and commits the whole batch, so records that were not applied would be lost. The mapping's consumer
// group must be the CONSUMER_GROUP_ID of its function: it is part of every watermark key.
const variables = (resource) => resource?.Properties?.Environment?.Variables ?? {};
for (const [id, resource] of resources) {
  if (resource.Type !== 'AWS::Lambda::EventSourceMapping') continue;
  const properties = resource.Properties ?? {};
  const kafka =
    properties.AmazonManagedKafkaEventSourceConfig ?? properties.SelfManagedKafkaEventSourceConfig;
  if (kafka === undefined) continue;
  if (!(properties.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures')) {
    fail(`event-source mapping ${id} lacks FunctionResponseTypes [ReportBatchItemFailures]`);
  }
  const target = properties.FunctionName?.Ref;
  const group = variables(template.Resources[target]).CONSUMER_GROUP_ID;
  if (kafka.ConsumerGroupId !== group) {
    fail(
      `event-source mapping ${id} has consumer group ${JSON.stringify(kafka.ConsumerGroupId)}, ` +
        `but its function ${target} has CONSUMER_GROUP_ID ${JSON.stringify(group)}`,
    );
  }
}
// IAM grants s3:PutObject on DEAD_LETTER_S3's prefix + '*': without the trailing '/', `s3://bucket` would
// become every bucket whose name starts with `bucket`.
for (const [id, resource] of resources) {
  const location = variables(resource).DEAD_LETTER_S3;
  if (typeof location === 'string' && location !== '' && !/^s3:\/\/[^/]+\/(.*\/)?$/.test(location)) {
    fail(`function ${id} has DEAD_LETTER_S3 ${location}, expected s3://bucket/ or s3://bucket/prefix/`);
  }
}

const state = JSON.parse(await readFile(join(outDir, 'serverless-state.json'), 'utf8'));
const { service, provider } = state.service;
const count = (type) => resources.filter(([, resource]) => resource.Type === type).length;
console.log(
  `package-check: ok in ${seconds} s: ${service} stage ${provider.stage} region ${provider.region}, ` +
    `${resources.length} resources (${count('AWS::Lambda::Function')} functions, ` +
    `${count('AWS::StepFunctions::StateMachine')} state machines, ` +
    `${count('AWS::Lambda::EventSourceMapping')} event-source mappings) in ${templatePath}`,
);
