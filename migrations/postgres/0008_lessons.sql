-- Lessons: a title and an ordered list of slides, kept as JSON (validated by the node before
-- it is written). `version` counts edits: a save names the version it edited, so two editors
-- cannot overwrite each other unknowingly. `slide_count` lets the board log check slide
-- numbers without reading the slides.
create table lessons (
    id text primary key,
    owner_id text not null,
    title text not null,
    version bigint not null,
    slides text not null,
    slide_count bigint not null,
    created_at bigint not null,
    updated_at bigint not null
);

create index lessons_owner_id_idx on lessons (owner_id, updated_at);

-- Which uploads each lesson shows, so an upload still in use is not deleted.
create table lesson_media (
    lesson_id text not null,
    upload_id text not null,
    primary key (lesson_id, upload_id)
);

create index lesson_media_upload_id_idx on lesson_media (upload_id);
