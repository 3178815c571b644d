-- Each board's ordered log of accepted commands. `seq` is the board's offset (API.md), one
-- more than the event before; the pair is the key, so two nodes can never append the same
-- offset. A command's client-generated id appears once per board: a re-sent command finds
-- its event instead of appending again. Rows older than the history retention are trimmed;
-- the state below does not need them.
create table board_events (
    board_id text not null,
    seq bigint not null,
    command_id text not null,
    action text not null,
    by_user_id text not null,
    at bigint not null,
    primary key (board_id, seq)
);

create unique index board_events_board_id_command_id_key on board_events (board_id, command_id);
create index board_events_at_idx on board_events (at);

-- What each board shows after its last event, updated in the same transaction as the append.
create table board_states (
    board_id text primary key,
    seq bigint not null,
    state text not null,
    updated_at bigint not null
);
