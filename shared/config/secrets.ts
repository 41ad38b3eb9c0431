import { createHash } from 'node:crypto';
import { ConfigError } from '../errors/index.js';

/**
 * Environment variables that name a secret by ARN, and the plain variables its value fills in. A secret's
 * value is a JSON object with the fields on the right (the format of ElastiCache users, MSK SCRAM secrets and
 * RDS-style rotation), or, for a single field, the bare string.
 */
export const SECRET_VARIABLES = {
  /** Redis ACL user and password: `{"username":"loader","password":"…"}`, or the password alone. */
  REDIS_SECRET_ARN: { username: 'REDIS_USERNAME', password: 'REDIS_PASSWORD' },
  /** The Upstash REST token: `{"token":"…"}`, or the token alone. */
  UPSTASH_TOKEN_SECRET_ARN: { token: 'UPSTASH_REDIS_REST_TOKEN' },
  /** SASL/SCRAM credentials of the Kafka dead-letter producer: `{"username":"…","password":"…"}`. */
  KAFKA_SASL_SECRET_ARN: { username: 'KAFKA_SASL_USERNAME', password: 'KAFKA_SASL_PASSWORD' },
} as const satisfies Record<string, Record<string, string>>;

/** The field a bare-string secret stands for (the one a secret of that kind cannot do without). */
const BARE_FIELD: Record<keyof typeof SECRET_VARIABLES, string> = {
  REDIS_SECRET_ARN: 'password',
  UPSTASH_TOKEN_SECRET_ARN: 'token',
  KAFKA_SASL_SECRET_ARN: 'password',
};

/** How long a fetched secret is used before it is fetched again (rotation). @default 300 */
export const SECRETS_TTL_VARIABLE = 'SECRETS_TTL_SECONDS';
const DEFAULT_TTL_SECONDS = 300;

const SECRETS_MANAGER_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;
const SSM_PARAMETER_ARN = /^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter\/?.+$/;

/** Reads one secret's text by ARN. The default speaks to Secrets Manager and SSM through the AWS SDK. */
export interface SecretReader {
  read(arn: string): Promise<string>;
}

/** Options of {@link resolveSecrets}. */
export interface ResolveSecretsOptions {
  /** @default the AWS SDK's Secrets Manager and SSM clients (endpoints from the usual AWS_* variables) */
  readonly reader?: SecretReader;
  /** The clock, in milliseconds (tests). @default Date.now */
  readonly now?: () => number;
}

interface Cached {
  readonly text: string;
  readonly fetchedAt: number;
}

const cache = new Map<string, Cached>();

/**
 * `env` with every secret it names by ARN ({@link SECRET_VARIABLES}) fetched and filled into the plain
 * variables, for `parseEnv` to check as if they had been set directly. Each secret is fetched once and reused
 * for `SECRETS_TTL_SECONDS` (default 300), so a warm function picks up a rotated secret within that time.
 *
 * A secret that cannot be read, or whose value has the wrong shape, is a `ConfigError` naming the variable
 * and the ARN, never the value. Setting both a secret and the variable it fills is a `ConfigError` too: one
 * of them would be ignored silently.
 *
 * @example
 * // REDIS_SECRET_ARN=arn:aws:secretsmanager:eu-west-1:123456789012:secret:redis-loader-AbCdEf
 * const env = parseEnv(chunkEnvSchema, await resolveSecrets(process.env));
 * env.REDIS_PASSWORD; // from the secret
 */
export async function resolveSecrets(
  env: Readonly<Record<string, string | undefined>>,
  options: ResolveSecretsOptions = {},
): Promise<Record<string, string | undefined>> {
  const named = secretVariablesIn(env);
  if (named.length === 0) return { ...env };
  const ttlMs = ttlSeconds(env) * 1000;
  const now = options.now ?? Date.now;
  const reader = options.reader ?? (await sdkReader());
  const out: Record<string, string | undefined> = { ...env };
  await Promise.all(
    named.map(async ([variable, arn]) => {
      const targets = SECRET_VARIABLES[variable];
      for (const plain of Object.values(targets)) {
        if (env[plain] !== undefined && env[plain] !== '')
          throw new ConfigError(
            `environment variable ${plain} and ${variable} are both set: keep one (${variable} fills ${plain} from the secret)`,
          );
      }
      const text = await fetchCached(variable, arn, reader, now(), ttlMs);
      Object.assign(out, fieldsOf(variable, arn, text));
    }),
  );
  return out;
}

/**
 * A fingerprint of the secrets `env` names, as last fetched: it changes when a fetch after the TTL brought a
 * new value. A function compares it between invocations to build its clients again after a rotation.
 * Costs nothing while the cached values are fresh.
 */
export async function secretsVersion(
  env: Readonly<Record<string, string | undefined>>,
  options: ResolveSecretsOptions = {},
): Promise<string> {
  const named = secretVariablesIn(env);
  if (named.length === 0) return '';
  const resolved = await resolveSecrets(env, options);
  const hash = createHash('sha256');
  for (const [variable] of named)
    for (const plain of Object.values(SECRET_VARIABLES[variable]))
      hash.update(`${resolved[plain] ?? ''}\u0000`);
  // A digest, so the fingerprint a runtime keeps is not itself a copy of the secret.
  return hash.digest('hex');
}

/** Forgets every fetched secret (tests, and a process that was told its credentials were refused). */
export function clearSecretCache(): void {
  cache.clear();
}

function secretVariablesIn(
  env: Readonly<Record<string, string | undefined>>,
): [keyof typeof SECRET_VARIABLES, string][] {
  const out: [keyof typeof SECRET_VARIABLES, string][] = [];
  for (const variable of Object.keys(SECRET_VARIABLES) as (keyof typeof SECRET_VARIABLES)[]) {
    const arn = env[variable];
    if (arn === undefined || arn === '') continue;
    if (!SECRETS_MANAGER_ARN.test(arn) && !SSM_PARAMETER_ARN.test(arn))
      throw new ConfigError(
        `environment variable ${variable} must be the ARN of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>) or of an SSM parameter (arn:aws:ssm:<region>:<account>:parameter/<name>), got ${JSON.stringify(arn.slice(0, 200))}`,
      );
    out.push([variable, arn]);
  }
  return out;
}

function ttlSeconds(env: Readonly<Record<string, string | undefined>>): number {
  const text = env[SECRETS_TTL_VARIABLE];
  if (text === undefined || text === '') return DEFAULT_TTL_SECONDS;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 86_400)
    throw new ConfigError(`environment variable ${SECRETS_TTL_VARIABLE} must be an integer from 0 to 86400`);
  return n;
}

async function fetchCached(
  variable: string,
  arn: string,
  reader: SecretReader,
  now: number,
  ttlMs: number,
): Promise<string> {
  const hit = cache.get(arn);
  if (hit !== undefined && now - hit.fetchedAt < ttlMs) return hit.text;
  let text: string;
  try {
    text = await reader.read(arn);
  } catch (err) {
    // The SDK's message names the secret, never its value; its name says what went wrong.
    const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new ConfigError(`cannot read ${variable} ${arn}: ${why.slice(0, 300)}`, { cause: err });
  }
  cache.set(arn, { text, fetchedAt: now });
  return text;
}

/** The plain variables a secret's text fills; a wrong shape names the fields expected, never the text. */
function fieldsOf(
  variable: keyof typeof SECRET_VARIABLES,
  arn: string,
  text: string,
): Record<string, string> {
  const targets: Record<string, string> = SECRET_VARIABLES[variable];
  const expected = Object.keys(targets);
  let fields: Record<string, unknown>;
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      fields = JSON.parse(trimmed) as Record<string, unknown>;
    } catch {
      throw new ConfigError(`${variable} ${arn} holds a value starting with '{' that is not JSON`);
    }
  } else {
    fields = { [BARE_FIELD[variable]]: text };
  }
  const out: Record<string, string> = {};
  for (const field of expected) {
    const value = fields[field];
    if (value === undefined || value === null || value === '') continue;
    if (typeof value !== 'string')
      throw new ConfigError(`${variable} ${arn}: field "${field}" must be a string`);
    out[targets[field]!] = value;
  }
  const required = BARE_FIELD[variable];
  if (out[targets[required]!] === undefined)
    throw new ConfigError(
      `${variable} ${arn} has no "${required}": expected JSON with ${expected.map((f) => `"${f}"`).join(', ')} or the ${required} alone`,
    );
  return out;
}

let defaultReader: Promise<SecretReader> | undefined;

/**
 * Secrets Manager `GetSecretValue` and SSM `GetParameter` (decrypted) through the AWS SDK, loaded on first
 * use. Endpoints and credentials come from the SDK's usual sources (`AWS_REGION`,
 * `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL_SSM`, the function's role).
 */
function sdkReader(): Promise<SecretReader> {
  defaultReader ??= (async () => {
    const [sm, ssm] = await Promise.all([
      import('@aws-sdk/client-secrets-manager'),
      import('@aws-sdk/client-ssm'),
    ]);
    const secrets = new sm.SecretsManagerClient({});
    const parameters = new ssm.SSMClient({});
    return {
      async read(arn: string): Promise<string> {
        if (SECRETS_MANAGER_ARN.test(arn)) {
          const reply = await secrets.send(new sm.GetSecretValueCommand({ SecretId: arn }));
          if (reply.SecretString !== undefined) return reply.SecretString;
          if (reply.SecretBinary !== undefined) return Buffer.from(reply.SecretBinary).toString('utf8');
          throw new Error('the secret has no value');
        }
        const reply = await parameters.send(new ssm.GetParameterCommand({ Name: arn, WithDecryption: true }));
        const value = reply.Parameter?.Value;
        if (value === undefined) throw new Error('the parameter has no value');
        return value;
      },
    };
  })();
  return defaultReader;
}
