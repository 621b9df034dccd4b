import { describe, expect, it } from 'vitest';
import { DbUrlError, describeTarget, parseDbUrl, redactUrl } from '../../schema/url.js';

describe('database URLs', () => {
  it('parses host, port, socket and percent-encoded passwords', () => {
    expect(parseDbUrl('mysql://app:p%40ss%3Aw0rd@db.example:3307/dbos')).toEqual({
      user: 'app', password: 'p@ss:w0rd', database: 'dbos', host: 'db.example', port: 3307,
    });
    expect(parseDbUrl('mariadb://u@localhost/x?socket=/run/m.sock')).toMatchObject({ socketPath: '/run/m.sock', database: 'x', password: '' });
    expect(parseDbUrl('mysql://u:p@h/d').port).toBe(3306);
  });

  it('rejects what it cannot use, in a sentence without the password', () => {
    for (const bad of ['nonsense', 'http://u:secret@h/d', 'mysql://u:secret@h/', 'mysql://u:secret@h/a/b', 'mysql://:secret@h/d', 'mysql://u:secret@h/d;drop']) {
      expect(() => parseDbUrl(bad)).toThrow(DbUrlError);
      try {
        parseDbUrl(bad);
      } catch (e) {
        expect((e as Error).message).not.toContain('secret');
      }
    }
  });

  it('redacts passwords for display', () => {
    expect(redactUrl('mysql://u:secret@h:1/d')).toBe('mysql://u:***@h:1/d');
    expect(redactUrl('mysql://u@h/d')).toBe('mysql://u@h/d');
    expect(describeTarget(parseDbUrl('mysql://u:secret@h:1/d'))).toBe('u@h:1/d');
  });
});
