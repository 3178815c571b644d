-- Classroom boards. A board registers once and proves itself with a secret kept here only as
-- a SHA-256 digest (it is 256 random bits, so a fast hash is enough).
create table boards (
    id text primary key,
    name text not null,
    secret_digest text not null,
    created_at bigint not null,
    -- when the board last called or was connected: "online" and the clean-up of boards never paired
    last_seen_at bigint not null
);

create index boards_last_seen_at_idx on boards (last_seen_at);

-- The 6-digit codes boards show. The code is the key, so a code is unique among the rows;
-- an expired row may be taken over by a new code, a live one never.
create table pairing_codes (
    code text primary key,
    board_id text not null,
    expires_at bigint not null
);

create index pairing_codes_board_id_idx on pairing_codes (board_id);

-- A teacher's right to steer a board, until the teacher or the board deletes it.
create table pairings (
    id text primary key,
    board_id text not null,
    user_id text not null,
    label text,
    created_at bigint not null
);

create index pairings_board_id_idx on pairings (board_id);
create index pairings_user_id_idx on pairings (user_id);
