import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/errors/index.js';
import { parseRedisUrl, redactUrl } from '../../../shared/redis/index.js';

describe('parseRedisUrl', () => {
  it('applies defaults', () => {
    expect(parseRedisUrl('redis://cache.local')).toEqual({
      host: 'cache.local',
      port: 6379,
      db: 0,
      tls: false,
      name: 'redis://cache.local:6379/0',
    });
  });

  it('reads user, percent-encoded password, port and db', () => {
    const endpoint = parseRedisUrl('redis://loader:p%40ss%3Aw%2Frd@10.0.0.5:6380/3');
    expect(endpoint).toEqual({
      host: '10.0.0.5',
      port: 6380,
      username: 'loader',
      password: 'p@ss:w/rd',
      db: 3,
      tls: false,
      name: 'redis://loader:***@10.0.0.5:6380/3',
    });
  });

  it('reads a password without a user, rediss:// and IPv6 hosts', () => {
    expect(parseRedisUrl('rediss://:s3cret@redis.example.com/')).toMatchObject({
      host: 'redis.example.com',
      password: 's3cret',
      username: undefined,
      tls: true,
      db: 0,
      name: 'rediss://:***@redis.example.com:6379/0',
    });
    expect(parseRedisUrl('redis://[::1]:7000/1')).toMatchObject({
      host: '::1',
      port: 7000,
      db: 1,
      name: 'redis://[::1]:7000/1',
    });
  });

  it('takes an unencoded @ in the password as part of it', () => {
    expect(parseRedisUrl('redis://u:p@ss@host').password).toBe('p@ss');
  });

  it.each([
    ['not a url at all', /invalid Redis URL/],
    ['http://:hunter2@host:6379', /unknown scheme 'http:'/],
    ['redis://:hunter2@host:99999', /invalid Redis URL/],
    ['redis://:hunter2@host:0', /port/],
    ['redis://:hunter2@host/abc', /db/],
    ['redis://:hunter2@host/-1', /db/],
    ['redis://:hunter2@host/1/2', /db/],
    ['redis://:hunter2@host?db=2', /query/],
    ['redis://:hunter2%ZZ@host', /percent-encoding/],
    ['redis://hunter2@host', /user name but no password/],
    ['redis://:hunter2@/1', /invalid Redis URL|missing host/],
    ['redis://user:hunter2/x@host', /invalid Redis URL/],
    ['redis://user:12/hunter2@host', /db/],
  ])('rejects %s with a ConfigError that hides the password', (url, message) => {
    let error: unknown;
    try {
      parseRedisUrl(url);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).name).toBe('ConfigError');
    expect((error as ConfigError).message).toMatch(message);
    expect((error as ConfigError).message).not.toContain('hunter2');
    expect((error as ConfigError).cause).toBeUndefined();
  });
});

describe('redactUrl', () => {
  it.each([
    ['redis://loader:s3cret@host:6379/2', 'redis://loader:***@host:6379/2'],
    ['rediss://:s3cret@host', 'rediss://:***@host'],
    ['redis://user:pa/ss#x@host', 'redis://user:***@host'],
    ['redis://s3cret@host', 'redis://***@host'],
    ['redis://host:6379', 'redis://host:6379'],
    ['garbage', 'garbage'],
  ])('redacts %s', (url, redacted) => {
    expect(redactUrl(url)).toBe(redacted);
  });
});
