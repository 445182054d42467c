import type { NextConfig } from 'next';

const config: NextConfig = {
  // Workspace packages ship TypeScript sources.
  transpilePackages: ['@strata/db', '@strata/client', '@strata/core'],
  // Native or Node-only modules stay outside the server bundle.
  serverExternalPackages: ['@node-rs/argon2', 'mysql2', 'pg', '@prisma/client', '@prisma/adapter-pg'],
  poweredByHeader: false,
  // packages/db is NodeNext TypeScript (`./x.js` names `./x.ts`); Turbopack cannot map that, webpack can.
  webpack(config: { resolve: { extensionAlias?: Record<string, string[]> } }) {
    config.resolve.extensionAlias = { '.js': ['.ts', '.tsx', '.js'], '.mjs': ['.mts', '.mjs'] };
    return config;
  },
  // The launcher decides where the build goes (a per-home cache keyed by a source hash).
  distDir: process.env.CONSOLE_DIST_DIR ?? '.next',
};

export default config;
