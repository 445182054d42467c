-- An operator may cancel a long operation; it ends as "cancelled", neither finished nor failed.
-- (Postgres 12+ allows ADD VALUE inside the migrator's transaction; the value is not used in it.)
ALTER TYPE "OperationStatus" ADD VALUE 'cancelled';
