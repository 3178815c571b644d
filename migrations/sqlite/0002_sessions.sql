-- Web sessions (the HttpOnly cookie of the web client), in the layout of
-- tower-sessions' SQLite store. The data never holds a token, only ids.
create table tower_sessions (
    id text primary key not null,
    data blob not null,
    expiry_date integer not null
);
