/** Steps per seed in CI: enough for several elections, crashes and the membership change. */
export const SIM_STEPS = 600;
