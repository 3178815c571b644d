//! Natural batching of the statements every login runs. Each kind of statement has one
//! worker: while its statement for earlier requests is at the database, new requests queue,
//! and the next statement serves all of them at once (up to [`MAX_BATCH`]). An idle node
//! sends each request alone, with no added wait; at an 8:30 rush, thirty logins cost a few
//! statements and, on SQLite, a few commits instead of thirty of each.

use std::{future::Future, time::Duration};

use tokio::sync::{mpsc, oneshot};

use super::{held_connection::HeldConnection, StoreError, StoreResult};

/// The most requests one statement serves. Each batch size is its own prepared statement,
/// so this also bounds how many a connection caches per kind.
const MAX_BATCH: usize = 16;

/// Requests waiting beyond this make callers wait to enqueue: memory stays bounded.
const QUEUE_CAPACITY: usize = 4_096;

struct Job<In, Out> {
    input: In,
    reply: oneshot::Sender<StoreResult<Out>>,
}

/// A queue in front of one kind of statement; cheap to share between requests.
pub struct Batcher<In, Out> {
    queue: mpsc::Sender<Job<In, Out>>,
}

impl<In, Out> Batcher<In, Out>
where
    In: Send + 'static,
    Out: Send + 'static,
{
    /// Starts the worker. `run` gets the batcher's connection and the inputs of one batch and
    /// must answer each, in order; when it fails, every request of the batch gets its error.
    /// A batch still running after `deadline` (a stalled network, a lock held elsewhere) is
    /// abandoned: its requests get a fast `Unavailable`, its connection is closed rather than
    /// reused mid-reply, and the next batch starts on a fresh one, so one stuck connection
    /// never holds every later request.
    pub fn spawn<F, Fut>(connection: HeldConnection, deadline: Duration, run: F) -> Self
    where
        F: Fn(HeldConnection, Vec<In>) -> Fut + Send + 'static,
        Fut: Future<Output = StoreResult<Vec<Out>>> + Send,
    {
        Self::spawn_sized(MAX_BATCH, connection, deadline, run)
    }

    /// [`Batcher::spawn`] with batches of at most `max_batch` requests.
    pub fn spawn_sized<F, Fut>(
        max_batch: usize,
        connection: HeldConnection,
        deadline: Duration,
        run: F,
    ) -> Self
    where
        F: Fn(HeldConnection, Vec<In>) -> Fut + Send + 'static,
        Fut: Future<Output = StoreResult<Vec<Out>>> + Send,
    {
        let (queue, mut waiting) = mpsc::channel::<Job<In, Out>>(QUEUE_CAPACITY);
        tokio::spawn(async move {
            while let Some(first) = waiting.recv().await {
                let mut jobs = vec![first];
                while jobs.len() < max_batch {
                    match waiting.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
                let (inputs, replies): (Vec<In>, Vec<_>) =
                    jobs.into_iter().map(|job| (job.input, job.reply)).unzip();
                let ran = tokio::time::timeout(deadline, run(connection.clone(), inputs)).await;
                match ran {
                    Ok(Ok(outputs)) if outputs.len() == replies.len() => {
                        for (reply, output) in replies.into_iter().zip(outputs) {
                            // The caller may have gone (client disconnected): nothing to do.
                            let _ = reply.send(Ok(output));
                        }
                    }
                    Ok(Ok(outputs)) => {
                        let error = StoreError::Other(format!(
                            "a batch of {} answered {} requests",
                            replies.len(),
                            outputs.len()
                        ));
                        answer_all(replies, &error);
                    }
                    Ok(Err(error)) => answer_all(replies, &error),
                    Err(_) => {
                        connection.discard().await;
                        tracing::warn!(?deadline, "the database did not answer a batch in time");
                        answer_all(replies, &StoreError::stalled(deadline));
                    }
                }
            }
        });
        Self { queue }
    }

    /// Queues one request and waits for its answer.
    pub async fn call(&self, input: In) -> StoreResult<Out> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { input, reply })
            .await
            .map_err(|_| StoreError::Unavailable("the store is shutting down".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Other("a batch ended without an answer".into()))?
    }
}

fn answer_all<Out>(replies: Vec<oneshot::Sender<StoreResult<Out>>>, error: &StoreError) {
    for reply in replies {
        let _ = reply.send(Err(error.clone()));
    }
}

/// A statement being bound, on either engine.
pub type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// The most ids one `in (...)` list binds: far below SQLite's 32,766 and PostgreSQL's 65,535
/// parameters, so a list over every socket of a busy node is split rather than refused.
pub const IN_LIST_CHUNK: usize = 1_000;

/// `$first, $first+1, ...` for `count` parameters, to list a batch in one statement.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($first, ...), (...)`: `count` rows of `columns` parameters each.
pub fn value_rows(count: usize, first: usize, columns: usize) -> String {
    (0..count)
        .map(|i| format!("({})", placeholders(first + i * columns, columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    };

    use sqlx::AnyPool;

    use super::*;

    const DEADLINE: Duration = Duration::from_secs(30);

    /// A connection the closures below never touch.
    fn unused_connection() -> HeldConnection {
        sqlx::any::install_default_drivers();
        HeldConnection::per_batch(AnyPool::connect_lazy("sqlite::memory:").unwrap())
    }

    #[tokio::test]
    async fn each_request_gets_its_own_answer() {
        let batcher = Arc::new(Batcher::spawn(
            unused_connection(),
            DEADLINE,
            |_, inputs: Vec<u32>| async move { Ok(inputs.into_iter().map(|n| n * 2).collect()) },
        ));
        let mut calls = tokio::task::JoinSet::new();
        for n in 0..100u32 {
            let batcher = Arc::clone(&batcher);
            calls.spawn(async move { (n, batcher.call(n).await.unwrap()) });
        }
        while let Some(joined) = calls.join_next().await {
            let (n, doubled) = joined.unwrap();
            assert_eq!(doubled, n * 2);
        }
    }

    #[tokio::test]
    async fn requests_queued_during_a_statement_share_the_next_one() {
        let statements = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&statements);
        let (release, released) = tokio::sync::watch::channel(false);
        let batcher = Arc::new(Batcher::spawn(
            unused_connection(),
            DEADLINE,
            move |_, inputs: Vec<u32>| {
                counted.fetch_add(1, Ordering::SeqCst);
                let mut released = released.clone();
                async move {
                    released.wait_for(|go| *go).await.unwrap();
                    Ok(inputs)
                }
            },
        ));
        let mut calls = tokio::task::JoinSet::new();
        let first = Arc::clone(&batcher);
        calls.spawn(async move { first.call(0).await.unwrap() });
        while statements.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // The first statement is at the "database"; these nine queue behind it.
        for n in 1..10u32 {
            let batcher = Arc::clone(&batcher);
            calls.spawn(async move { batcher.call(n).await.unwrap() });
        }
        tokio::task::yield_now().await;
        release.send(true).unwrap();
        let mut answered = 0;
        while let Some(joined) = calls.join_next().await {
            joined.unwrap();
            answered += 1;
        }
        assert_eq!(answered, 10);
        assert_eq!(statements.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_statement_fails_every_request_of_its_batch() {
        let batcher = Batcher::spawn(unused_connection(), DEADLINE, |_, _: Vec<u32>| async move {
            Err::<Vec<u32>, _>(StoreError::Unavailable("down".into()))
        });
        assert!(matches!(
            batcher.call(1).await,
            Err(StoreError::Unavailable(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_past_its_deadline_fails_fast_and_the_next_one_runs() {
        let stalls = Arc::new(AtomicUsize::new(1));
        let left = Arc::clone(&stalls);
        let batcher = Batcher::spawn(
            unused_connection(),
            Duration::from_secs(2),
            move |_, inputs: Vec<u32>| {
                let stall =
                    left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
                async move {
                    if stall.is_ok() {
                        std::future::pending::<()>().await;
                    }
                    Ok(inputs)
                }
            },
        );
        let started = tokio::time::Instant::now();
        assert!(matches!(
            batcher.call(1).await,
            Err(StoreError::Unavailable(_))
        ));
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert_eq!(batcher.call(2).await.unwrap(), 2);
        assert_eq!(stalls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn placeholders_are_numbered_from_the_first() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(placeholders(1, 1), "$1");
    }
}
