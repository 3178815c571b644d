//! The school every benchmark backs up: a PostgreSQL database seeded with users, boards,
//! their events, lessons and tokens, and a data directory of uploaded blobs.

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::Instant,
};

use boardcast::{
    auth::password::hash_password,
    clock::Clock,
    config::DatabaseUrl,
    store::{NewUser, Store},
};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};

use crate::{commands::sync, env_or, postgres, MIB, PASSWORD};

const USERS: i64 = 200;
pub(crate) const BOARDS: i64 = 1_000;
/// 1,000 boards of 100 events: 100,000 events.
pub(crate) const EVENTS_PER_BOARD: i64 = 100;
const LESSONS: i64 = 100;
const TOKENS: i64 = 2_000;
pub(crate) const BLOBS: u64 = 64;
/// Every table a backup carries, for the comparison of a restored database with its source.
const TABLES: &[&str] = &[
    "users",
    "oauth_clients",
    "tokens",
    "revoked_families",
    "boards",
    "pairings",
    "board_states",
    "board_events",
    "uploads",
    "lessons",
    "lesson_media",
];

/// The database and data directory every benchmark backs up.
pub(crate) struct School {
    pub(crate) url: String,
    pub(crate) data_dir: PathBuf,
    pub(crate) rows: i64,
    pub(crate) blob_bytes: u64,
}

impl School {
    /// A PostgreSQL database of users, tokens, boards with their pairings, states and 100,000
    /// events, lessons and uploads, and the uploads' blobs of random bytes.
    pub(crate) async fn seed(scratch: &Path) -> Self {
        let started = Instant::now();
        let url = postgres::fresh_durable_database().await;
        let store = Store::connect(&DatabaseUrl::new(&url)).await.unwrap();
        store.migrate().await.unwrap();
        let teacher = NewUser {
            username: "teacher".into(),
            display_name: "Bench Teacher".into(),
            password_hash: hash_password(PASSWORD.into()).await.unwrap(),
            roles: "teacher".into(),
        };
        store
            .create_user(teacher, Clock::system().now_millis())
            .await
            .unwrap();
        store.close().await;

        let data_dir = scratch.join("node");
        let blob_bytes = env_or("BENCH_BLOB_MIB", 1024u64) * MIB;
        let blobs = {
            let objects = data_dir.join("blobs").join("objects");
            tokio::task::spawn_blocking(move || write_blobs(&objects, blob_bytes / BLOBS))
                .await
                .unwrap()
        };
        let mut db = PgConnection::connect(&url).await.unwrap();
        for statement in seed_statements(Clock::system().now_millis()) {
            sqlx::query(&statement).execute(&mut db).await.unwrap();
        }
        let (hashes, sizes): (Vec<String>, Vec<i64>) = blobs.into_iter().unzip();
        sqlx::query(
            "insert into uploads (id, owner_id, sha256, size, content_type, filename, stored_by, \
             idempotency_key, created_at) \
             select md5('upload' || (n - 1))::uuid::text, md5('user' || n)::uuid::text, sha256, \
             size, 'video/mp4', 'clip-' || n || '.mp4', 'bench', null, 1780000000000 + n \
             from unnest($1::text[], $2::bigint[]) with ordinality as blob(sha256, size, n)",
        )
        .bind(&hashes)
        .bind(&sizes)
        .execute(&mut db)
        .await
        .unwrap();
        sqlx::query("vacuum analyze")
            .execute(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();
        let rows = table_counts(&url).await.iter().map(|(_, n)| n).sum();
        sync();
        println!(
            "Seeded in {:.1} s: {rows} rows ({} board events) and {} blobs of {} MiB\n",
            started.elapsed().as_secs_f64(),
            BOARDS * EVENTS_PER_BOARD,
            BLOBS,
            blob_bytes / BLOBS / MIB
        );
        Self {
            url,
            data_dir,
            rows,
            blob_bytes,
        }
    }
}

/// Rows as nodes write them: ids are UUIDs, board states are the state after the board's
/// last event, lessons show the uploads of their owners. The school started a month before
/// `now`; its events are of the last hours, as a node keeps a day of them.
fn seed_statements(now: i64) -> Vec<String> {
    let t0 = now - 30 * 86_400_000;
    let events_t0 = now - 3 * 3_600_000;
    let user = |n: &str| format!("md5('user' || ({n}))::uuid::text");
    let board = |n: &str| format!("md5('board' || ({n}))::uuid::text");
    vec![
        format!(
            "insert into users (id, username, display_name, password_hash, roles, source, created_at) \
             select {}, 'user' || i, 'Teacher ' || i, null, 'teacher', 'ldap', {t0} + i \
             from generate_series(1, {}) i",
            user("i"),
            USERS - 1
        ),
        format!(
            "insert into tokens (digest, kind, family_id, user_id, client_id, scope, expires_at, \
             used_at, revoked_at) \
             select encode(sha256(('token' || i)::bytea), 'hex'), \
             case when i % 2 = 0 then 'access' else 'refresh' end, md5('family' || (i / 2))::uuid::text, \
             {}, 'web', 'boardcast', {} + i, null, null from generate_series(1, {TOKENS}) i",
            user(&format!("i % {} + 1", USERS - 1)),
            t0 + 60 * 86_400_000
        ),
        format!(
            "insert into revoked_families (family_id, revoked_at) \
             select md5('family' || i)::uuid::text, {t0} + i from generate_series(1, 50) i"
        ),
        format!(
            "insert into boards (id, name, secret_digest, created_at, last_seen_at) \
             select {}, 'Room ' || i, encode(sha256(('secret' || i)::bytea), 'hex'), {t0} + i, \
             {} + i from generate_series(1, {BOARDS}) i",
            board("i"),
            t0 + 29 * 86_400_000
        ),
        format!(
            "insert into pairings (id, board_id, user_id, label, created_at) \
             select md5('pairing' || i)::uuid::text, {}, {}, 'Room ' || i, {t0} + 1000 + i \
             from generate_series(1, {BOARDS}) i",
            board("i"),
            user(&format!("i % {} + 1", USERS - 1))
        ),
        format!(
            "insert into board_events (board_id, seq, command_id, action, by_user_id, at) \
             select {}, s, md5('command' || b || '-' || s)::uuid::text, \
             case when s % 2 = 1 then '{{\"kind\":\"blank\",\"on\":true}}' \
             else '{{\"kind\":\"blank\",\"on\":false}}' end, {}, {} + b * 1000 + s \
             from generate_series(1, {BOARDS}) b, generate_series(1, {EVENTS_PER_BOARD}) s",
            board("b"),
            user(&format!("b % {} + 1", USERS - 1)),
            events_t0
        ),
        format!(
            "insert into board_states (board_id, seq, state, updated_at) \
             select {}, {EVENTS_PER_BOARD}, \
             '{{\"lesson_id\":null,\"slide\":0,\"blank\":{},\"timer_ends_at\":null}}', \
             {} + b * 1000 + {EVENTS_PER_BOARD} from generate_series(1, {BOARDS}) b",
            board("b"),
            EVENTS_PER_BOARD % 2 == 1,
            events_t0
        ),
        format!(
            "insert into lessons (id, owner_id, title, version, slides, slide_count, created_at, \
             updated_at) \
             select md5('lesson' || i)::uuid::text, {}, 'Lesson ' || i, 1, \
             '[{{\"id\":\"' || md5('slide-a' || i)::uuid || '\",\"kind\":\"video\",\"upload_id\":\"' \
             || md5('upload' || (i % {BLOBS}))::uuid || '\"}},{{\"id\":\"' || md5('slide-b' || i)::uuid \
             || '\",\"kind\":\"text\",\"text\":\"Questions?\"}}]', 2, {t0} + i, {t0} + i \
             from generate_series(0, {}) i",
            user(&format!("i % {BLOBS} + 1")),
            LESSONS - 1
        ),
        format!(
            "insert into lesson_media (lesson_id, upload_id) \
             select md5('lesson' || i)::uuid::text, md5('upload' || (i % {BLOBS}))::uuid::text \
             from generate_series(0, {}) i",
            LESSONS - 1
        ),
    ]
}

/// Writes `BLOBS` files of `size` pseudo-random bytes where a node keeps them; their SHA-256
/// in hex and sizes.
fn write_blobs(objects: &Path, size: u64) -> Vec<(String, i64)> {
    let mut block = vec![0u8; MIB as usize];
    (0..BLOBS)
        .map(|n| {
            let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ (n + 1).wrapping_mul(0xff51_afd7_ed55_8ccd);
            let mut hasher = Sha256::new();
            let incoming = objects.join("incoming");
            std::fs::create_dir_all(objects).unwrap();
            let mut file = std::io::BufWriter::new(std::fs::File::create(&incoming).unwrap());
            let mut left = size;
            while left > 0 {
                for word in block.chunks_mut(8) {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
                }
                let len = left.min(MIB) as usize;
                hasher.update(&block[..len]);
                file.write_all(&block[..len]).unwrap();
                left -= len as u64;
            }
            file.flush().unwrap();
            drop(file);
            let hex = hex::encode(hasher.finalize());
            let fan = objects.join(&hex[..2]);
            std::fs::create_dir_all(&fan).unwrap();
            std::fs::rename(&incoming, fan.join(&hex)).unwrap();
            (hex, size as i64)
        })
        .collect()
}

/// Rows per backed-up table.
pub(crate) async fn table_counts(url: &str) -> Vec<(&'static str, i64)> {
    let mut db = PgConnection::connect(url).await.unwrap();
    let mut counts = Vec::new();
    for table in TABLES {
        let n: i64 = sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&mut db)
            .await
            .unwrap();
        counts.push((*table, n));
    }
    db.close().await.unwrap();
    counts
}

/// A digest of the whole board log, to tell a restored log from its source.
pub(crate) async fn log_digest(url: &str) -> String {
    let mut db = PgConnection::connect(url).await.unwrap();
    let digest: String = sqlx::query_scalar(
        "select md5(string_agg(concat_ws('|', board_id, seq, command_id, action, by_user_id, at), \
         ',' order by board_id, seq)) from board_events",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    digest
}
