-- Which console process runs an operation, so one left running by a process that stopped (a restart,
-- a crash) can be told from one still running and marked failed (ABANDONED).
ALTER TABLE "Operation" ADD COLUMN "runnerHost" TEXT;
ALTER TABLE "Operation" ADD COLUMN "runnerPid" INTEGER;
ALTER TABLE "Operation" ADD COLUMN "runnerBoot" TEXT;
