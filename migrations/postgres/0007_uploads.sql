-- Uploaded media. The bytes live in each node's blob store under `sha256`; several uploads
-- may share one blob. `stored_by` is the node that received the upload, asked first by
-- peers that lack the blob.
create table uploads (
    id text primary key,
    owner_id text not null,
    sha256 text not null,
    size bigint not null,
    content_type text not null,
    filename text not null,
    stored_by text not null,
    -- the client's Idempotency-Key: a retried upload returns the first one's row
    idempotency_key text,
    created_at bigint not null,
    constraint uploads_owner_id_idempotency_key_key unique (owner_id, idempotency_key)
);

create index uploads_sha256_idx on uploads (sha256);
create index uploads_owner_id_idx on uploads (owner_id, created_at);

-- The nodes of the cluster, each refreshing its row every few seconds: peers for blob sync,
-- the SPA's host list (`GET /api/cluster`) and `boardcast status`.
create table nodes (
    node_id text primary key,
    public_url text not null,
    started_at bigint not null,
    last_seen_at bigint not null,
    blobs_missing bigint not null,
    bytes_behind bigint not null,
    last_sync_at bigint
);
