//! `backup`: how long `boardcast backup`, `verify` and `restore` take against `pg_dump -Fc`,
//! `pg_restore` and `cp -r` of the same data, timed in the same run.

use std::path::Path;

use crate::{
    commands::{count_files, drop_database, run_boardcast, sync, timed},
    env_or, median, postgres, rounds_of,
    school::{log_digest, table_counts, School, BLOBS, BOARDS, EVENTS_PER_BOARD},
    MIB,
};

/// Times of one round, in seconds.
#[derive(Default)]
struct Round {
    full: f64,
    incremental: f64,
    verify: f64,
    pg_dump: f64,
    cp_out: f64,
    sync_out: f64,
    restore: f64,
    pg_restore: f64,
    cp_in: f64,
    sync_in: f64,
    steps: [String; 4],
}

/// Backup, incremental backup, verify and restore, each against its baseline, in rounds.
pub(crate) async fn backup_and_restore(school: &School, scratch: &Path) {
    let rounds = env_or("BENCH_ROUNDS", 3usize).max(1);
    let source_counts = table_counts(&school.url).await;
    let source_log = log_digest(&school.url).await;
    let blobs = school.data_dir.join("blobs");
    let mut all = Vec::new();
    for round in 0..rounds {
        let ours_dir = scratch.join(format!("ours-{round}"));
        let base_dir = scratch.join(format!("base-{round}"));
        let dump = base_dir.join("boardcast.dump");
        let mut r = Round::default();

        // Out: ours and the baseline, in turns first, each after a sync.
        for ours_first in [round % 2 == 0, round % 2 == 1] {
            sync();
            if ours_first {
                let ran = run_boardcast(
                    &["backup".as_ref(), "--out".as_ref(), ours_dir.as_os_str()],
                    &school.url,
                    &school.data_dir,
                )
                .await;
                r.full = ran.seconds;
                r.steps[0] = ran.steps_line();
            } else {
                std::fs::create_dir_all(&base_dir).unwrap();
                r.pg_dump = timed(
                    postgres::bin_dir().join("pg_dump"),
                    &[
                        "-Fc".as_ref(),
                        "-f".as_ref(),
                        dump.as_os_str(),
                        "-d".as_ref(),
                        school.url.as_ref(),
                    ],
                )
                .await;
                r.cp_out = timed(
                    "cp",
                    &["-r".as_ref(), blobs.as_os_str(), base_dir.as_os_str()],
                )
                .await;
                r.sync_out = timed("sync", &[]).await;
            }
        }
        sync();
        let ran = run_boardcast(
            &["backup".as_ref(), "--out".as_ref(), ours_dir.as_os_str()],
            &school.url,
            &school.data_dir,
        )
        .await;
        r.incremental = ran.seconds;
        r.steps[1] = ran.steps_line();
        let backup = ran.last_line();
        sync();
        let ran = run_boardcast(
            &["verify".as_ref(), backup.as_os_str()],
            &school.url,
            &school.data_dir,
        )
        .await;
        r.verify = ran.seconds;
        r.steps[2] = ran.steps_line();

        // In: into fresh databases and data directories.
        let ours_url = postgres::fresh_durable_database().await;
        let ours_data = scratch.join(format!("restored-ours-{round}"));
        let base_url = postgres::fresh_durable_database().await;
        let base_data = scratch.join(format!("restored-base-{round}"));
        std::fs::create_dir_all(&base_data).unwrap();
        for ours_first in [round % 2 == 0, round % 2 == 1] {
            sync();
            if ours_first {
                let ran = run_boardcast(
                    &["restore".as_ref(), backup.as_os_str()],
                    &ours_url,
                    &ours_data,
                )
                .await;
                r.restore = ran.seconds;
                r.steps[3] = ran.steps_line();
            } else {
                r.pg_restore = timed(
                    postgres::bin_dir().join("pg_restore"),
                    &["-d".as_ref(), base_url.as_ref(), dump.as_os_str()],
                )
                .await;
                r.cp_in = timed(
                    "cp",
                    &[
                        "-r".as_ref(),
                        base_dir.join("blobs").as_os_str(),
                        base_data.as_os_str(),
                    ],
                )
                .await;
                r.sync_in = timed("sync", &[]).await;
            }
        }
        let restored = table_counts(&ours_url).await;
        assert_eq!(restored, source_counts, "the restored database differs");
        assert_eq!(
            log_digest(&ours_url).await,
            source_log,
            "the restored log differs"
        );
        let restored_blobs = count_files(&ours_data.join("blobs").join("objects"));
        assert_eq!(restored_blobs, BLOBS, "blobs restored");

        for dir in [&ours_dir, &base_dir, &ours_data, &base_data] {
            std::fs::remove_dir_all(dir).unwrap();
        }
        drop_database(&ours_url).await;
        drop_database(&base_url).await;
        println!(
            "  round {}: backup {:.2} s ({}) | pg_dump {:.2} + cp -r {:.2} (+ sync {:.2}) | incremental {:.2} s ({}) | verify {:.2} s ({}) | restore {:.2} s ({}) | pg_restore {:.2} + cp -r {:.2} (+ sync {:.2})",
            round + 1,
            r.full,
            r.steps[0],
            r.pg_dump,
            r.cp_out,
            r.sync_out,
            r.incremental,
            r.steps[1],
            r.verify,
            r.steps[2],
            r.restore,
            r.steps[3],
            r.pg_restore,
            r.cp_in,
            r.sync_in
        );
        all.push(r);
    }

    let of = |pick: fn(&Round) -> f64| all.iter().map(pick).collect::<Vec<f64>>();
    let full = of(|r| r.full);
    let incremental = of(|r| r.incremental);
    let verify = of(|r| r.verify);
    let restore = of(|r| r.restore);
    let pg_dump = of(|r| r.pg_dump);
    let dump_and_cp = of(|r| r.pg_dump + r.cp_out);
    let dump_cp_sync = of(|r| r.pg_dump + r.cp_out + r.sync_out);
    let restore_and_cp = of(|r| r.pg_restore + r.cp_in);
    let restore_cp_sync = of(|r| r.pg_restore + r.cp_in + r.sync_in);
    println!(
        "\nBackup and restore of {} rows ({} board events) and {} blobs, {} MiB, PostgreSQL \
         with fsync on; median of {rounds} round(s) (each round's figures above)",
        school.rows,
        BOARDS * EVENTS_PER_BOARD,
        BLOBS,
        school.blob_bytes / MIB
    );
    let line = |what: &str, samples: &[f64]| {
        println!(
            "  {what:<42} {:7.2} s   ({})",
            median(samples),
            rounds_of(samples)
        );
    };
    line("boardcast backup, first (full)", &full);
    line("pg_dump -Fc + cp -r", &dump_and_cp);
    line("pg_dump -Fc + cp -r + sync", &dump_cp_sync);
    line("boardcast backup, second (no new blobs)", &incremental);
    line("pg_dump -Fc alone", &pg_dump);
    line("boardcast verify", &verify);
    line("boardcast restore", &restore);
    line("pg_restore + cp -r", &restore_and_cp);
    line("pg_restore + cp -r + sync", &restore_cp_sync);
    println!(
        "  ratios (ours / baseline): full backup {:.2}x ({:.2}x against the baseline with sync); \
         second backup {:.2}x pg_dump alone; restore {:.2}x ({:.2}x with sync)\n",
        median(&full) / median(&dump_and_cp),
        median(&full) / median(&dump_cp_sync),
        median(&incremental) / median(&pg_dump),
        median(&restore) / median(&restore_and_cp),
        median(&restore) / median(&restore_cp_sync)
    );
}
