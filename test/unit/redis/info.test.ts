import { describe, expect, it } from 'vitest';
import { maxMemory, parseInfo, usedMemory } from '../../../shared/redis/index.js';

const SAMPLE = [
  '# Server',
  'redis_version:7.0.15',
  'redis_mode:standalone',
  '',
  '# Memory',
  'used_memory:1048576',
  'used_memory_human:1.00M',
  'maxmemory:104857600',
  'maxmemory_policy:noeviction',
  '',
  '# Keyspace',
  'db0:keys=1,expires=0,avg_ttl=0',
  'db3:keys=10,expires=2,avg_ttl=1000',
  '',
].join('\r\n');

describe('parseInfo', () => {
  it('groups key:value lines by lower-cased section', () => {
    const info = parseInfo(SAMPLE);
    expect(info.server).toEqual({ redis_version: '7.0.15', redis_mode: 'standalone' });
    expect(info.memory?.used_memory_human).toBe('1.00M');
    expect(info.memory?.maxmemory_policy).toBe('noeviction');
  });

  it('keeps keyspace values raw', () => {
    expect(parseInfo(SAMPLE).keyspace).toEqual({
      db0: 'keys=1,expires=0,avg_ttl=0',
      db3: 'keys=10,expires=2,avg_ttl=1000',
    });
  });

  it('splits at the first colon only and accepts LF line ends', () => {
    const info = parseInfo('# Server\nexecutable:/usr/bin/redis-server\nconfig_file:C:\\redis.conf\n');
    expect(info.server).toEqual({ executable: '/usr/bin/redis-server', config_file: 'C:\\redis.conf' });
  });

  it('returns an empty object for empty input', () => {
    expect(parseInfo('')).toEqual({});
  });
});

describe('usedMemory / maxMemory', () => {
  it('read numbers from the memory section', () => {
    const info = parseInfo(SAMPLE);
    expect(usedMemory(info)).toBe(1_048_576);
    expect(maxMemory(info)).toBe(104_857_600);
  });

  it('return 0 when the section or field is absent or not a number', () => {
    expect(usedMemory({})).toBe(0);
    expect(maxMemory(parseInfo('# Memory\r\nused_memory:12\r\n'))).toBe(0);
    expect(usedMemory({ memory: { used_memory: 'lots' } })).toBe(0);
  });
});
