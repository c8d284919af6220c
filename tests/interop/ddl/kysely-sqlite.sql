-- kysely layout, SQLite: the docs give PostgreSQL only; this is the adapter's own test schema (packages/adapter-kysely/test/index.test.ts connect()), as Kysely compiles it.
-- Source: nextauthjs/next-auth@5af7357fb40c82e0c66f940319321260ddfd44dc (@auth/* 1.11.x / 2.11.x / 3.11.x adapters).
create table "User" ("id" varchar primary key, "name" text, "email" text not null unique, "emailVerified" timestamptz default CURRENT_TIMESTAMP, "image" text);

create table "Account" ("userId" uuid not null references "User" ("id") on delete cascade, "type" text not null, "provider" text not null, "providerAccountId" text not null, "refresh_token" text, "access_token" text, "expires_at" bigint, "token_type" text, "scope" text, "id_token" text, "session_state" text);

create table "Session" ("userId" uuid not null references "User" ("id") on delete cascade, "sessionToken" text not null unique, "expires" timestamptz not null);

create table "VerificationToken" ("identifier" text not null, "token" text not null unique, "expires" timestamptz not null);

create index "Account_userId_index" on "Account" ("userId")
