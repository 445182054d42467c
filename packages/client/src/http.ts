/**
 * What every client of the services' HTTP APIs shares: a service address as
 * a URL, the bearer header of its token.
 */
import { StrataError } from '@strata/core';

/** An address that is neither a URL nor `host:port` (`[v6]:port` for IPv6). */
export class InvalidServiceAddress extends StrataError {
  readonly code = 'INVALID_SERVICE_ADDRESS' as const;
  constructor(
    readonly address: string,
    readonly service: string,
  ) {
    super(`${service} address "${address}" is not H:P, [IPv6]:P or an http(s) URL`);
    this.name = 'InvalidServiceAddress';
  }
}

const HOST_PORT = /^[^:\s/[\]]+:\d{1,5}$/;
const IPV6_PORT = /^\[[0-9a-fA-F:.]+\]:\d{1,5}$/;

/** `host:port`, `[v6]:port` or an `http(s)://` URL → the service's base URL (no trailing slash). */
export function serviceUrl(address: string, service: string): string {
  if (/^https?:\/\//.test(address)) return address.replace(/\/+$/, '');
  if (!HOST_PORT.test(address) && !IPV6_PORT.test(address)) throw new InvalidServiceAddress(address, service);
  return `http://${address}`;
}

/** The page server's base URL from `host:port`, `[v6]:port` or a URL. */
export function pageserverUrl(address: string): string {
  return serviceUrl(address, 'page server');
}

/** `Authorization: Bearer <token>`, or nothing without a token. */
export function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}
