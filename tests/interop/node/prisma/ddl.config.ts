// Only for regenerating tests/interop/ddl/prisma-*.sql offline (see tests/interop/README.md;
// it lives here, not as ./prisma.config.ts, so that `prisma generate` does not load it):
// `engine: "js"` routes the CLI's schema engine through the Wasm engine and a driver adapter,
// so `prisma migrate diff` needs no native binary from the network. The harness itself never
// loads this file: adapter.mjs builds its clients with the driver adapter directly.
import type { PrismaConfig } from "prisma"

const dialect = process.env.INTEROP_PRISMA_DIALECT ?? "postgres"

export default {
  experimental: { adapter: true },
  engine: "js",
  async adapter() {
    const url = process.env.DATABASE_URL ?? ""
    if (dialect === "postgres") {
      const { PrismaPg } = await import("@prisma/adapter-pg")
      return new PrismaPg({ connectionString: url })
    }
    if (dialect === "sqlite") {
      const { PrismaBetterSQLite3 } = await import("@prisma/adapter-better-sqlite3")
      return new PrismaBetterSQLite3({ url })
    }
    const { PrismaMariaDb } = await import("@prisma/adapter-mariadb")
    return new PrismaMariaDb(url)
  },
} satisfies PrismaConfig
