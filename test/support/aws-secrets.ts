import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local endpoint for the two AWS calls the functions make for secrets, speaking their documented wire
 * protocol (AWS JSON 1.1: `POST /`, `X-Amz-Target`, `application/x-amz-json-1.1`):
 * Secrets Manager `GetSecretValue` (`secretsmanager.GetSecretValue`, body `{SecretId}`) and SSM `GetParameter`
 * (`AmazonSSM.GetParameter`, body `{Name, WithDecryption}`), with their error replies
 * (`ResourceNotFoundException`, `ParameterNotFound`, `AccessDeniedException` as `__type`). The real SDK clients
 * reach it through `AWS_ENDPOINT_URL_SECRETS_MANAGER` / `AWS_ENDPOINT_URL_SSM`.
 */
export interface SecretsEndpoint {
  readonly url: string;
  /** Sets (or rotates) a secret's value, by ARN (Secrets Manager or SSM parameter). */
  put(arn: string, value: string): void;
  /** Makes reads of this ARN fail with AccessDeniedException, as a role without the permission would. */
  deny(arn: string): void;
  /** GetSecretValue / GetParameter requests answered so far, by ARN. */
  reads(arn: string): number;
  /** The environment the SDK needs to use this endpoint (region, dummy credentials, endpoint URLs). */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts a {@link SecretsEndpoint} on 127.0.0.1 and a free port. */
export async function startSecretsEndpoint(): Promise<SecretsEndpoint> {
  const values = new Map<string, string>();
  const denied = new Set<string>();
  const counts = new Map<string, number>();

  const fail = (res: ServerResponse, type: string, message: string): void => {
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'local' });
    res.end(JSON.stringify({ __type: type, message }));
  };
  const reply = (res: ServerResponse, body: unknown): void => {
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'local' });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      fail(res, 'SerializationException', 'body is not JSON');
      return;
    }
    if (target === 'secretsmanager.GetSecretValue' || target === 'AmazonSSM.GetParameter') {
      const ssm = target === 'AmazonSSM.GetParameter';
      const arn = String(ssm ? body.Name : body.SecretId);
      counts.set(arn, (counts.get(arn) ?? 0) + 1);
      if (denied.has(arn)) {
        fail(res, 'AccessDeniedException', `User is not authorized to perform the read on resource: ${arn}`);
        return;
      }
      const value = values.get(arn);
      if (value === undefined) {
        if (ssm) fail(res, 'ParameterNotFound', `Parameter ${arn} not found.`);
        else fail(res, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
        return;
      }
      if (ssm) {
        reply(res, { Parameter: { Name: arn, ARN: arn, Type: 'SecureString', Value: value, Version: 1 } });
      } else {
        const name = arn.slice(arn.indexOf(':secret:') + ':secret:'.length);
        reply(res, {
          ARN: arn,
          Name: name,
          SecretString: value,
          VersionId: 'v1',
          VersionStages: ['AWSCURRENT'],
        });
      }
      return;
    }
    fail(res, 'UnknownOperationException', `unknown operation ${target}`);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    put: (arn, value) => values.set(arn, value),
    deny: (arn) => denied.add(arn),
    reads: (arn) => counts.get(arn) ?? 0,
    env: {
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: url,
      AWS_ENDPOINT_URL_SSM: url,
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
