/** Input shapes shared by services and routers. */
import { hexId as coreHexId, lsnDecimal } from '@strata/core/json';
import { z } from 'zod';

export const branchName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'letters, digits, _ . - (max 63)');
export const snapshotName = branchName;
/** A decimal LSN typed by the operator, passed on as text (core's one LSN schema). */
export const lsnInput = lsnDecimal;
export const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 time');
export const hexId = coreHexId;
