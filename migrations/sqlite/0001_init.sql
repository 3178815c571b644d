-- boardcast schema, SQLite twin of postgres/0001_init.sql: same tables, same constraint names.
-- Ids are lowercase UUID strings; times are milliseconds since the Unix epoch.

create table users (
    id text primary key,
    username text not null,
    display_name text not null,
    -- null for people who log in through LDAP
    password_hash text,
    roles text not null,
    source text not null,
    created_at bigint not null,
    constraint users_username_key unique (username)
);

create table oauth_clients (
    client_id text primary key,
    -- null for public clients such as the web app
    secret_hash text,
    scope text not null,
    created_at bigint not null
);

insert into oauth_clients (client_id, secret_hash, scope, created_at)
values ('web', null, 'boardcast', 0);

-- One login: every access and refresh token it leads to belongs to the family, so reuse of a
-- rotated refresh token can revoke them all at once.
create table token_families (
    id text primary key,
    user_id text not null references users (id) on delete cascade,
    client_id text not null references oauth_clients (client_id) on delete cascade,
    scope text not null,
    created_at bigint not null,
    revoked_at bigint
);

create table access_tokens (
    digest text primary key,
    family_id text not null references token_families (id) on delete cascade,
    expires_at bigint not null,
    revoked_at bigint
);

create index access_tokens_family_idx on access_tokens (family_id);

create table refresh_tokens (
    digest text primary key,
    family_id text not null references token_families (id) on delete cascade,
    expires_at bigint not null,
    used_at bigint
);

create index refresh_tokens_family_idx on refresh_tokens (family_id);

-- Failed logins per key ('user:<name>' or 'addr:<ip>') in a fixed window, shared by all nodes.
create table login_failures (
    key text primary key,
    window_start bigint not null,
    failures bigint not null
);
