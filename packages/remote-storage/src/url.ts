import { z } from 'zod';
import { InvalidRemoteStorageUrl } from './errors.js';

/**
 * Remote storage URLs, the same everywhere in Strata:
 *   file:///abs/path
 *   s3://bucket/prefix?endpoint=http://127.0.0.1:PORT&region=us-east-1
 * S3 credentials never appear in the URL: they come from the usual AWS
 * environment variables (or the SDK's other default sources).
 */
export type RemoteStorageConfig =
  | { kind: 'file'; root: string }
  | { kind: 's3'; bucket: string; prefix: string; endpoint: string | undefined; region: string | undefined };

const absolutePath = z
  .string()
  .min(2, 'the path must not be the filesystem root')
  .refine((p) => p.startsWith('/'), 'the path must be absolute')
  .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'the path must not contain "." or ".." segments');

const fileUrl = z.object({
  host: z.literal('', { message: 'file URLs take no host: write file:///abs/path' }),
  path: absolutePath,
  query: z.object({}).strict(),
});

// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
const bucketName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'bucket names are 3-63 lowercase letters, digits, dots and hyphens');

const s3Url = z.object({
  bucket: bucketName,
  prefix: z
    .string()
    .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'the prefix must not contain "." or ".." segments'),
  query: z
    .object({
      endpoint: z
        .url({ protocol: /^https?$/, message: 'endpoint must be an http:// or https:// URL' })
        .optional(),
      region: z.string().regex(/^[a-z0-9-]+$/, 'region must look like us-east-1').optional(),
    })
    .strict(),
});

function fail(url: string, error: z.ZodError): never {
  const reason = error.issues
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
  throw new InvalidRemoteStorageUrl(url, reason);
}

export function parseRemoteStorageUrl(url: string): RemoteStorageConfig {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidRemoteStorageUrl(url, 'not a URL; expected file:///abs/path or s3://bucket/prefix');
  }
  if (parsed.username || parsed.password) {
    throw new InvalidRemoteStorageUrl(url, 'credentials do not belong in the URL: use the AWS environment variables');
  }
  if (parsed.hash) throw new InvalidRemoteStorageUrl(url, 'URL fragments are not allowed');
  const query = Object.fromEntries(parsed.searchParams);
  if (new Set(parsed.searchParams.keys()).size !== [...parsed.searchParams.keys()].length) {
    throw new InvalidRemoteStorageUrl(url, 'a query parameter is repeated');
  }

  if (parsed.protocol === 'file:') {
    const r = fileUrl.safeParse({ host: parsed.host, path: decodeURIComponent(parsed.pathname).replace(/\/+$/, ''), query });
    if (!r.success) fail(url, r.error);
    return { kind: 'file', root: r.data.path };
  }
  if (parsed.protocol === 's3:') {
    const prefix = decodeURIComponent(parsed.pathname).replace(/^\/+|\/+$/g, '');
    const r = s3Url.safeParse({ bucket: parsed.hostname, prefix, query });
    if (!r.success) fail(url, r.error);
    return {
      kind: 's3',
      bucket: r.data.bucket,
      prefix: r.data.prefix,
      endpoint: r.data.query.endpoint,
      region: r.data.query.region,
    };
  }
  throw new InvalidRemoteStorageUrl(url, `unknown scheme "${parsed.protocol}"; expected file: or s3:`);
}

/** A `--remote-storage` flag value: optional, and when given it must parse (zod, for the services' config schemas). */
export const remoteStorageUrlFlag = z
  .string()
  .optional()
  .superRefine((url, ctx) => {
    if (url === undefined) return;
    try {
      parseRemoteStorageUrl(url);
    } catch (e) {
      if (!(e instanceof InvalidRemoteStorageUrl)) throw e;
      ctx.addIssue({ code: 'custom', message: e.message });
    }
  });
