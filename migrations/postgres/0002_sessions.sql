-- Web sessions (the HttpOnly cookie of the web client), in the layout of
-- tower-sessions' PostgreSQL store. The data never holds a token, only ids.
create table tower_sessions (
    id text primary key not null,
    data bytea not null,
    expiry_date timestamptz not null
);
