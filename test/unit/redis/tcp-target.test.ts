import { describe, expect, it } from 'vitest';
import { TcpTarget } from '../../../shared/redis/index.js';

describe('TcpTarget.transactions', () => {
  it('offers transactions on a Redis server, not on an Upstash host that bills every command', () => {
    expect(new TcpTarget('redis://127.0.0.1:6379').transactions).toBe(true);
    expect(new TcpTarget('rediss://default:secret@redis.internal.example.com:6380/0').transactions).toBe(
      true,
    );
    expect(new TcpTarget('rediss://default:secret@eu1-cat-12345.upstash.io:6379').transactions).toBe(false);
    expect(new TcpTarget('rediss://default:secret@EU1-CAT-12345.UPSTASH.IO:6379').transactions).toBe(false);
    // Only the host's own domain counts.
    expect(new TcpTarget('redis://upstash.io.example.com:6379').transactions).toBe(true);
  });
});
