-- Backups made with `boardcast backup`, so `boardcast status` on any machine tells how old the
-- newest one is. Not itself backed up: a restored database has not been backed up yet.
create table backups (
    id text primary key,
    path text not null,
    node_id text not null,
    created_at bigint not null,
    finished_at bigint not null,
    rows bigint not null,
    blobs bigint not null,
    bytes bigint not null
);

create index backups_finished_at_idx on backups (finished_at);
