#!/usr/bin/env node
// Drives one REAL Auth.js adapter (the npm packages pinned in package.json) for asyncauth's
// interop tests, so Python can check both directions: rows the JS adapter writes are read by
// asyncauth, and rows asyncauth writes are read by the JS adapter.
//
// Usage:  node adapter.mjs '<request JSON>'      or      echo '<request JSON>' | node adapter.mjs
//
// Request:
//   {
//     "adapter": "prisma" | "drizzle" | "kysely" | "pg" | "mongodb",
//     "dialect": "postgres" | "mysql" | "sqlite" | "mongodb",
//     "url": "postgresql://…" | "mysql://…" | "mongodb://host:port/db" | "sqlite:///abs/path.db",
//     "path": "/abs/path.db",             (SQLite: instead of url)
//     "schema": true | "<ddl name>",      (optional: first run ../ddl/<adapter>-<dialect>.sql,
//                                          or ../ddl/<ddl name>.sql; a no-op for mongodb,
//                                          whose adapter and docs define no indexes)
//     "calls": [{"method": "createUser", "args": [{…}]}, …],
//     "prismaTimestampFormat": "unixepoch-ms",  (optional, prisma on SQLite: store times as the
//                                              classic native engine did, not ISO text)
//     "timeoutMs": 60000                       (optional: the deadline of the whole run)
//   }
// Values in args may be tagged: {"$date": "2030-01-02T03:04:05.678Z"} is a Date,
// {"$bigint": "123"} a BigInt, and {"$ref": "0.id"} is a value taken from an earlier call's
// result (here: the id of what call 0 returned), for ids the adapter makes (cuid, SERIAL,
// ObjectId) and that the caller cannot know beforehand.
//
// Output: one JSON line on stdout,
//   {"ok": true, "results": [r0, r1, …]}
//   {"ok": false, "results": [...the calls that succeeded], "error": {"call": i, "method", "name",
//    "message", "code"}}
// Results use the same tags: every Date is {"$date": ISO string with ms} (so a date the adapter
// hands back as a plain string, e.g. kysely on SQLite reading a non-ISO text, stays visibly a
// string), BigInt {"$bigint"}, bytes {"$bytes": base64}, ObjectId {"$oid"}; undefined is null.
// Exit status: 0 all calls ran, 1 a call threw (the JSON says which), 2 a bad request or a
// missing install, 3 the whole run exceeded its deadline.

import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import path from "node:path"
import { fileURLToPath } from "node:url"

const HERE = path.dirname(fileURLToPath(import.meta.url))
const DDL_DIR = path.join(HERE, "..", "ddl")
const require = createRequire(import.meta.url)

const COMBINATIONS = {
  prisma: ["postgres", "sqlite", "mysql"],
  drizzle: ["postgres", "mysql", "sqlite"],
  kysely: ["postgres", "mysql", "sqlite"],
  pg: ["postgres"],
  mongodb: ["mongodb"],
}

class RequestError extends Error {}

function fail(message) {
  throw new RequestError(message)
}

// -- request decoding ----------------------------------------------------------------------

function readRequest() {
  const text = process.argv[2] ?? readFileSync(0, "utf8")
  let request
  try {
    request = JSON.parse(text)
  } catch (error) {
    fail(`the request is not JSON: ${error.message}`)
  }
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    fail("the request must be a JSON object")
  }
  const dialects = COMBINATIONS[request.adapter]
  if (!dialects) fail(`unknown adapter ${JSON.stringify(request.adapter)}`)
  if (!dialects.includes(request.dialect)) {
    fail(
      `adapter ${request.adapter} runs on ${dialects.join(", ")}, ` +
        `not ${JSON.stringify(request.dialect)}`,
    )
  }
  if (!Array.isArray(request.calls ?? [])) fail("calls must be a list")
  return request
}

function lookup(results, reference) {
  if (typeof reference !== "string" || !/^\d+(\.[^.]+)*$/.test(reference)) {
    fail(`bad $ref ${JSON.stringify(reference)} (want "<call index>.<key>…")`)
  }
  const [index, ...keys] = reference.split(".")
  if (Number(index) >= results.length) fail(`$ref ${reference}: call ${index} has not run`)
  let value = results[Number(index)]
  for (const key of keys) {
    if (value === null || typeof value !== "object" || !(key in value)) {
      fail(`$ref ${reference}: the result has no ${JSON.stringify(key)}`)
    }
    value = value[key]
  }
  return value
}

// Turns the tagged JSON of the request into the values the adapter expects.
function decode(value, results) {
  if (Array.isArray(value)) return value.map((item) => decode(item, results))
  if (value === null || typeof value !== "object") return value
  const keys = Object.keys(value)
  if (keys.length === 1) {
    const [tag] = keys
    if (tag === "$date") {
      const date = new Date(value.$date)
      if (Number.isNaN(date.valueOf())) fail(`bad $date ${JSON.stringify(value.$date)}`)
      return date
    }
    if (tag === "$bigint") return BigInt(value.$bigint)
    if (tag === "$ref") return lookup(results, value.$ref)
  }
  return Object.fromEntries(keys.map((key) => [key, decode(value[key], results)]))
}

// Turns what the adapter returned into tagged JSON (see the header).
function encode(value) {
  if (value === undefined || value === null) return null
  if (value instanceof Date) {
    return { $date: Number.isNaN(value.valueOf()) ? null : value.toISOString() }
  }
  if (typeof value === "bigint") return { $bigint: value.toString() }
  if (typeof value === "number" && !Number.isFinite(value)) return { $number: String(value) }
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") }
  if (Array.isArray(value)) return value.map(encode)
  if (typeof value === "object") {
    if (value._bsontype === "ObjectId") return { $oid: value.toHexString() }
    const out = {}
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) out[key] = encode(item)
    }
    return out
  }
  return value
}

// -- connections ---------------------------------------------------------------------------

function sqlitePath(request) {
  if (request.path) return request.path
  const url = request.url ?? fail("sqlite needs path or url")
  if (url.startsWith("sqlite:///")) return url.slice("sqlite://".length)
  if (url.startsWith("file:")) return url.slice("file:".length)
  fail(`not a SQLite url: ${url}`)
}

function serverUrl(request) {
  return request.url ?? fail(`${request.dialect} needs url`)
}

function ddlStatements(name) {
  const file = path.join(DDL_DIR, `${name}.sql`)
  let text
  try {
    text = readFileSync(file, "utf8")
  } catch {
    fail(`no DDL file ${path.relative(process.cwd(), file)}`)
  }
  // The DDL files hold plain statements ending at a ';' at the end of a line (no procedures,
  // no string literals containing one), and '--' comments on lines of their own.
  const body = text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("--"))
    .join("\n")
  return body
    .split(/;[ \t]*(?:\r?\n|$)/)
    .map((statement) => statement.trim())
    .filter(Boolean)
}

async function createSchema(request) {
  if (!request.schema) return
  if (request.dialect === "mongodb") return
  const name =
    request.schema === true ? `${request.adapter}-${request.dialect}` : String(request.schema)
  const statements = ddlStatements(name)
  if (request.dialect === "sqlite") {
    const Database = require("better-sqlite3")
    const db = new Database(sqlitePath(request))
    try {
      db.exec(statements.map((s) => `${s};`).join("\n"))
    } finally {
      db.close()
    }
  } else if (request.dialect === "postgres") {
    const pg = require("pg")
    const client = new pg.Client({ connectionString: serverUrl(request) })
    await client.connect()
    try {
      for (const statement of statements) await client.query(statement)
    } finally {
      await client.end()
    }
  } else {
    const mysql = require("mysql2/promise")
    const connection = await mysql.createConnection({ uri: serverUrl(request) })
    try {
      for (const statement of statements) await connection.query(statement)
    } finally {
      await connection.end()
    }
  }
}

// Each builder returns {adapter, close}: the real Auth.js adapter over a fresh client, and
// how to release that client so the process can exit.
const BUILDERS = {
  async pg(request) {
    const pg = require("pg")
    const { default: PostgresAdapter } = await import("@auth/pg-adapter")
    const pool = new pg.Pool({ connectionString: serverUrl(request), max: 2 })
    return { adapter: PostgresAdapter(pool), close: () => pool.end() }
  },

  async drizzle(request) {
    const { DrizzleAdapter } = await import("@auth/drizzle-adapter")
    if (request.dialect === "postgres") {
      const pg = require("pg")
      const { drizzle } = await import("drizzle-orm/node-postgres")
      const pool = new pg.Pool({ connectionString: serverUrl(request), max: 2 })
      return { adapter: DrizzleAdapter(drizzle({ client: pool })), close: () => pool.end() }
    }
    if (request.dialect === "mysql") {
      const mysql = require("mysql2/promise")
      const { drizzle } = await import("drizzle-orm/mysql2")
      const pool = mysql.createPool({ uri: serverUrl(request), connectionLimit: 2 })
      // No "mode" key: drizzle-orm 0.45's isConfig() rejects any object that has one (its
      // test is always false), and then takes the whole {client, mode} object for the client.
      return { adapter: DrizzleAdapter(drizzle({ client: pool })), close: () => pool.end() }
    }
    const Database = require("better-sqlite3")
    const { drizzle } = await import("drizzle-orm/better-sqlite3")
    const sqlite = new Database(sqlitePath(request))
    return { adapter: DrizzleAdapter(drizzle({ client: sqlite })), close: () => sqlite.close() }
  },

  async kysely(request) {
    const { KyselyAdapter } = await import("@auth/kysely-adapter")
    const { Kysely, PostgresDialect, MysqlDialect, SqliteDialect } = await import("kysely")
    let dialect
    if (request.dialect === "postgres") {
      const pg = require("pg")
      dialect = new PostgresDialect({
        pool: new pg.Pool({ connectionString: serverUrl(request), max: 2 }),
      })
    } else if (request.dialect === "mysql") {
      const mysql = require("mysql2")
      dialect = new MysqlDialect({
        pool: mysql.createPool({ uri: serverUrl(request), connectionLimit: 2 }),
      })
    } else {
      const Database = require("better-sqlite3")
      dialect = new SqliteDialect({ database: new Database(sqlitePath(request)) })
    }
    const db = new Kysely({ dialect })
    return { adapter: KyselyAdapter(db), close: () => db.destroy() }
  },

  async prisma(request) {
    const { PrismaAdapter } = await import("@auth/prisma-adapter")
    const generated = path.join(HERE, "generated", `prisma-${request.dialect}`)
    let PrismaClient
    try {
      ;({ PrismaClient } = require(generated))
    } catch (error) {
      const why = error.code === "MODULE_NOT_FOUND" ? "not generated" : error.message
      throw new RequestError(
        `the Prisma client for ${request.dialect} is missing (${why}): run scripts/interop-install`,
      )
    }
    let driver
    if (request.dialect === "postgres") {
      const { PrismaPg } = await import("@prisma/adapter-pg")
      driver = new PrismaPg({ connectionString: serverUrl(request), max: 2 })
    } else if (request.dialect === "mysql") {
      const { PrismaMariaDb } = await import("@prisma/adapter-mariadb")
      const url = new URL(serverUrl(request))
      driver = new PrismaMariaDb({
        host: url.hostname,
        port: Number(url.port || 3306),
        user: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        database: decodeURIComponent(url.pathname.slice(1)),
        connectionLimit: 2,
      })
    } else {
      const { PrismaBetterSQLite3 } = await import("@prisma/adapter-better-sqlite3")
      // The adapter's default timestampFormat ("iso8601") is what a Prisma 6 app with driver
      // adapters writes; "unixepoch-ms" is what the classic native engine wrote.
      const options = request.prismaTimestampFormat
        ? { timestampFormat: request.prismaTimestampFormat }
        : undefined
      driver = new PrismaBetterSQLite3({ url: `file:${sqlitePath(request)}` }, options)
    }
    // "minimal": an error's message is the one line that says why, not a code frame.
    const prisma = new PrismaClient({ adapter: driver, errorFormat: "minimal" })
    return { adapter: PrismaAdapter(prisma), close: () => prisma.$disconnect() }
  },

  async mongodb(request) {
    const { MongoClient } = await import("mongodb")
    const { MongoDBAdapter } = await import("@auth/mongodb-adapter")
    // The database is the URL's path (the adapter's default: the client's default database).
    const client = new MongoClient(serverUrl(request), { serverSelectionTimeoutMS: 10000 })
    return { adapter: MongoDBAdapter(client), close: () => client.close() }
  },
}

// -- main ----------------------------------------------------------------------------------

function errorReport(error, call, method) {
  return {
    call,
    method,
    name: error?.name ?? "Error",
    message: String(error?.message ?? error).trim().slice(0, 4000),
    code: error?.code ?? null,
    // drizzle wraps the driver's error ("Failed query: …"); the driver's own says why.
    cause: error?.cause ? String(error.cause.message ?? error.cause) : null,
  }
}

function finish(payload, status) {
  process.stdout.write(`${JSON.stringify(payload)}\n`, () => process.exit(status))
}

async function run(request) {
  const results = []
  const encoded = []
  await createSchema(request)
  const { adapter, close } = await BUILDERS[request.adapter](request)
  try {
    for (const [index, call] of (request.calls ?? []).entries()) {
      const method = call?.method
      if (typeof adapter[method] !== "function") {
        fail(`call ${index}: the ${request.adapter} adapter has no method ${JSON.stringify(method)}`)
      }
      let result
      try {
        result = await adapter[method](...decode(call.args ?? [], results))
      } catch (error) {
        if (error instanceof RequestError) throw error
        return { payload: { ok: false, results: encoded, error: errorReport(error, index, method) }, status: 1 }
      }
      results.push(result)
      encoded.push(encode(result))
    }
  } finally {
    await close()
  }
  return { payload: { ok: true, results: encoded }, status: 0 }
}

async function main() {
  let request
  try {
    request = readRequest()
  } catch (error) {
    return finish({ ok: false, results: [], error: errorReport(error, null, null) }, 2)
  }
  const timeoutMs = Number(request.timeoutMs ?? 60000)
  const deadline = setTimeout(() => {
    const error = new Error(`the harness run exceeded ${timeoutMs} ms`)
    finish({ ok: false, results: [], error: errorReport(error, null, null) }, 3)
  }, timeoutMs)
  deadline.unref()
  try {
    const { payload, status } = await run(request)
    finish(payload, status)
  } catch (error) {
    // Schema creation, connecting, a bad $ref: nothing the adapter's contract decides.
    const status = error instanceof RequestError ? 2 : 1
    finish({ ok: false, results: [], error: errorReport(error, null, null) }, status)
  }
}

main()
