-- Web sessions (the HttpOnly cookie of the web client) in boardcast's own layout: the data is
-- the session's JSON, the expiry integer milliseconds like every other time, so one query
-- layer serves both engines and a new session is one statement. The data never holds a
-- token, only ids. `tower_sessions` (0002) is no longer written; a later release drops it.
create table web_sessions (
    id text primary key,
    data text not null,
    expires_at bigint not null
);

create index web_sessions_expires_at_idx on web_sessions (expires_at);
