import { describe, expect, it } from 'vitest';
import { withCredentials } from '../../../shared/import/index.js';
import { parseRedisUrl, TcpTarget } from '../../../shared/redis/index.js';

const SECRET = 'p@ss:w/rd#?%x';

describe('withCredentials: one helper for the CLI and the Lambda functions', () => {
  it('fills a user and password into a URL without any, encoded so they parse back exactly', () => {
    const url = withCredentials('redis://cache.local:6380/2', { username: 'loader', password: SECRET });
    expect(parseRedisUrl(url)).toMatchObject({
      host: 'cache.local',
      port: 6380,
      db: 2,
      username: 'loader',
      password: SECRET,
      name: 'redis://loader:***@cache.local:6380/2',
    });
    const alone = withCredentials('rediss://cache.local', { password: SECRET });
    expect(parseRedisUrl(alone)).toMatchObject({ username: undefined, password: SECRET, tls: true });
  });

  it('keeps a password the URL has, and a URL when no password is given', () => {
    const own = 'redis://u:own@cache.local:6379';
    expect(withCredentials(own, { username: 'other', password: SECRET })).toBe(own);
    expect(withCredentials('redis://cache.local', undefined)).toBe('redis://cache.local');
    expect(withCredentials('redis://cache.local', { username: 'loader' })).toBe('redis://cache.local');
    // An empty REDIS_PASSWORD is no password (and never a user without one).
    expect(withCredentials('redis://cache.local', { username: 'loader', password: '' })).toBe(
      'redis://cache.local',
    );
  });

  it('never shows a password: not in errors for bad URLs, not in target names', () => {
    for (const bad of ['redis://:hunter2@host:99999', 'ftp://:hunter2@host', 'nonsense hunter2@']) {
      let message = '';
      try {
        withCredentials(bad, { password: SECRET });
      } catch (err) {
        message = (err as Error).message;
        expect((err as Error).name).toBe('ConfigError');
      }
      expect(message).toMatch(/Redis URL/);
      expect(message).not.toContain('hunter2');
      expect(message).not.toContain(SECRET);
    }
    const target = new TcpTarget(withCredentials('redis://127.0.0.1:1', { username: 'u', password: SECRET }));
    expect(target.name).toBe('redis://u:***@127.0.0.1:1/0');
  });
});
