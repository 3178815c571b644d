-- Answers to writes sent with an Idempotency-Key, so a retry on any node within a day gets
-- the first answer instead of doing the write again. `id` is a hash of who asked and the
-- key; `request_hash` tells a true retry from another request reusing the key. `answer` is
-- sealed with a key derived from the client's Idempotency-Key, which is never stored, so
-- answers that carry credentials (a board's secret) are unreadable here. While the first
-- request runs, `answer` is null and `locked_until` says how long it may take before a
-- retry takes over (its node may have died).
create table idempotency_keys (
    id text primary key,
    request_hash text not null,
    answer text,
    locked_until bigint not null,
    expires_at bigint not null
);

create index idempotency_keys_expires_at_idx on idempotency_keys (expires_at);
