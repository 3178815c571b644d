-- Every token in one table, each row carrying its login's user, client and scope: a login
-- stores its access and refresh token in one statement, and no foreign key makes concurrent
-- logins take locks on the same user or client row. Removing a user or client deletes its
-- tokens explicitly. A login (family) is revoked by listing it in `revoked_families`, which
-- every token check consults, so a token added to a family while it is being revoked is
-- refused too. `token_families`, `access_tokens` and `refresh_tokens` (0001) are no longer
-- used; a later release drops them.
create table tokens (
    digest text primary key,
    -- 'access' or 'refresh'
    kind text not null,
    family_id text not null,
    user_id text not null,
    client_id text not null,
    scope text not null,
    expires_at bigint not null,
    -- when a refresh token was rotated; kept until it expires so reuse can be detected
    used_at bigint,
    revoked_at bigint
);

create index tokens_family_id_idx on tokens (family_id);
create index tokens_user_id_idx on tokens (user_id);
create index tokens_client_id_idx on tokens (client_id);
create index tokens_expires_at_idx on tokens (expires_at);

create table revoked_families (
    family_id text primary key,
    revoked_at bigint not null
);
