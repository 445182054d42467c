import { describe, expect, it } from 'vitest';
import { mariadbCommand, parseConnection, shellQuote, urlWithoutPassword } from './connection';

describe('a compute connection as the panel shows it', () => {
  it("an admin's URL: host, port, user, password", () => {
    expect(parseConnection('mysql://root:s3cr%27t@127.0.0.1:41234/')).toEqual({ host: '127.0.0.1', port: 41234, user: 'root', password: "s3cr't", database: null });
  });
  it("a viewer's URL has no password; the command prompts for it", () => {
    const c = parseConnection('mysql://root@127.0.0.1:41234/')!;
    expect(c.password).toBeNull();
    expect(mariadbCommand(c, true)).toBe('mariadb -h 127.0.0.1 -P 41234 -u root -p');
  });
  it('the password goes inline only when revealed, quoted for a shell', () => {
    const c = parseConnection("mysql://root:a'b%20c@127.0.0.1:3307/app")!;
    expect(mariadbCommand(c, false)).toBe('mariadb -h 127.0.0.1 -P 3307 -u root -p app');
    expect(mariadbCommand(c, true)).toBe(`mariadb -h 127.0.0.1 -P 3307 -u root --password='a'\\''b c' app`);
    expect(urlWithoutPassword(c)).toBe('mysql://root@127.0.0.1:3307/app');
  });
  it('anything but a mysql:// URL with a user is not a connection', () => {
    expect(parseConnection('http://root@127.0.0.1:1/')).toBeNull();
    expect(parseConnection('mysql://127.0.0.1:1/')).toBeNull();
    expect(parseConnection('not a url')).toBeNull();
  });
  it('shell words', () => {
    expect(shellQuote('abc-1.2')).toBe('abc-1.2');
    expect(shellQuote('a b')).toBe("'a b'");
  });
});
