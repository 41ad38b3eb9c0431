import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/errors/index.js';
import { compileTemplate } from '../../../shared/mapping/index.js';

describe('compileTemplate', () => {
  it('renders one and several fields, with literal braces', () => {
    expect(compileTemplate('user:{id}').render({ id: '7' })).toBe('user:7');
    expect(compileTemplate('o:{shop}:{ id }:x').render({ shop: 's1', id: 9 })).toBe('o:s1:9:x');
    expect(compileTemplate('{{a}}:{id}').render({ id: true })).toBe('{a}:true');
    expect(compileTemplate('user:{id}').literalPrefix).toBe('user:');
    expect(compileTemplate('{id}:x').literalPrefix).toBe('');
  });

  it('reports missing, null, empty and non-scalar fields as reasons', () => {
    const t = compileTemplate('user:{id}');
    expect(t.render({})).toEqual({ reason: "missing key field 'id'" });
    expect(t.render({ id: null })).toEqual({ reason: "missing key field 'id'" });
    expect(t.render({ id: '' })).toEqual({ reason: "key field 'id' is empty" });
    expect(t.render({ id: { a: 1 } })).toEqual({ reason: "key field 'id' is not a scalar" });
    expect(compileTemplate('{a}:{b}').render({ a: 'x' })).toEqual({ reason: "missing key field 'b'" });
  });

  it('refuses malformed templates with a message that says where', () => {
    expect(() => compileTemplate('user:')).toThrow(ConfigError);
    expect(() => compileTemplate('user:{id')).toThrow(/unclosed/);
    expect(() => compileTemplate('user:{}')).toThrow(/empty/);
    expect(() => compileTemplate('user}:{id}')).toThrow(/unmatched/);
  });

  it('renders any string value verbatim between the literals', () => {
    const t = compileTemplate('k:{a}:{b}!');
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (a, b) => {
        expect(t.render({ a, b })).toBe(`k:${a}:${b}!`);
      }),
    );
  });
});
