/** Input shapes shared by services and routers. */
import { z } from 'zod';

export const branchName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'letters, digits, _ . - (max 63)');
export const snapshotName = branchName;
export const lsnInput = z.string().regex(/^\d{1,20}$/, 'a decimal LSN');
export const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 time');
export const hexId = z.string().regex(/^[0-9a-f]{32}$/, '32 lowercase hex digits');
